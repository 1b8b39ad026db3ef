// The operator console: login, then the inbox (list, conversation, contact card), kept live
// over the WebSocket. Uses only the public API (see api.js). No framework, no build step.

import {
  api,
  ApiError,
  clearToken,
  newClientId,
  savedToken,
  saveToken,
  setUnauthorizedHandler,
} from "./api.js";
import { ComposerFiles, inlineImage } from "./files.js";
import { LiveFeed } from "./live.js";
import { setupCanned } from "./canned.js";
import { setupMacros } from "./macros.js";
import {
  labelChips,
  labelFilter,
  loadLabels,
  passesLabelFilter,
  renderLabelEditor,
  setupLabelFilter,
} from "./labels.js";
import { renderSnooze } from "./snooze.js";
import { setupNotify } from "./notify.js";
import { renderContactCard } from "./contactcard.js";
import { clearDraft, flushOutbox, holdForLater, restoreDraft, setupOutbox } from "./outbox.js";
import { compareConvs, leaveView, passesViewFilter, refreshCounts, setupViews, viewParams } from "./views.js";

const $ = (id) => document.getElementById(id);

const I = window.i18n; // translations and Intl formats in the chosen language (i18n.js)

// Marked with N_ for the catalogue, translated with _() when shown.
const STATE_LABELS = {
  queued: N_("Queued"),
  sent: N_("Sent"),
  delivered: N_("Delivered"),
  read: N_("Read"),
  failed: N_("Failed"),
};
const STATUS_LABELS = {
  open: N_("open"),
  pending: N_("pending"),
  snoozed: N_("snoozed"),
  resolved: N_("resolved"),
  bot: N_("with the bot"),
};
// The server's channel-type labels and contact nouns (app/*/plugin.py), for the catalogue.
N_("Web chat"), N_("Email"), N_("Visitor");
const label = (table, key) => (table[key] ? _(table[key]) : key);

const S = {
  me: null,
  operators: new Map(),
  channels: new Map(),
  channelTypes: new Map(), // type -> {label, contact_noun, icon, capabilities}, from the server
  filter: sessionStorage.getItem("chatcentre.filter") || "mine",
  convs: new Map(),
  previews: new Map(),
  nextCursor: null,
  selected: null,
  messages: new Map(),
  lastId: null,
  live: null,
  templates: new Map(),
  mode: "reply",
  pending: null, // {text, mode, cid}: a failed send keeps its id, so a retry stores once
  ticker: null,
};

// ------------------------------------------------------------------ DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function channelLabel(type) {
  const label = S.channelTypes.get(type)?.label;
  return label ? _(label) : type;
}

function channelIcon(type, extra = "") {
  const el = h("span", {
    class: `ch-icon ch-${type} ${extra}`,
    role: "img",
    "aria-label": channelLabel(type),
    title: channelLabel(type),
  });
  // Through the CSSOM: the console's CSP allows no inline style attributes.
  const icon = S.channelTypes.get(type)?.icon;
  if (icon) el.style.backgroundImage = `url("${icon}")`;
  return el;
}

function initials(name) {
  const parts = (name || "").split(/\s+/).filter((p) => /^\p{L}/u.test(p)).slice(0, 2);
  return parts.map((p) => p[0].toUpperCase()).join("") || "?";
}

function avatar(name, type, size = "") {
  const hue = [...(name || "?")].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 360, 7);
  const el = h("span", { class: `avatar ${size} hue-${hue % 8}`, "aria-hidden": "true" }, initials(name));
  if (type) el.append(channelIcon(type, "ch-badge"));
  return el;
}

function shortAgo(seconds) {
  if (seconds < 60) return _("now");
  if (seconds < 3600) return _("{n}m", { n: Math.floor(seconds / 60) });
  if (seconds < 86400) return _("{n}h", { n: Math.floor(seconds / 3600) });
  return _("{n}d", { n: Math.floor(seconds / 86400) });
}

function longWait(seconds) {
  if (seconds < 60) return _("less than a minute");
  const minutes = (n) => ngettext("{n} minute", "{n} minutes", n);
  if (seconds < 3600) return minutes(Math.floor(seconds / 60));
  const hours = Math.floor(seconds / 3600);
  if (hours < 48)
    return `${ngettext("{n} hour", "{n} hours", hours)} ${minutes(Math.floor((seconds % 3600) / 60))}`;
  return ngettext("{n} day", "{n} days", Math.floor(hours / 24));
}

function fmtTime(iso) {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? I.time(d) : I.dateTime(d);
}

function operatorName(id) {
  if (id === null || id === undefined) return null;
  if (S.me && id === S.me.id) return _("You");
  return S.operators.get(id)?.name || _("Operator #{id}", { id });
}

function contactName(c) {
  if (c.contact?.name) return c.contact.name;
  const known = S.channelTypes.get(c.channel_type)?.contact_noun;
  const noun = known ? _(known) : _("Client");
  return _("{noun} #{id}", { noun, id: c.contact?.id });
}

function channelName(id) {
  const ch = S.channels.get(id);
  return ch ? ch.name : _("Channel #{id}", { id });
}

function toast(message, kind = "error") {
  const el = h("div", { class: `toast toast-${kind}` }, message);
  $("toasts").append(el);
  setTimeout(() => el.remove(), 6000);
}

// A notice stays until the operator closes it: it asks for work, unlike a toast.
function notice(message, href, linkText) {
  const close = h("button", { type: "button", class: "btn btn-ghost notice-close", "aria-label": _("Close") }, "×");
  const el = h("div", { class: "toast toast-notice", role: "status" }, message, " ", h("a", { href }, linkText), close);
  close.addEventListener("click", () => el.remove());
  $("toasts").append(el);
}

function explain(err) {
  if (err instanceof ApiError) {
    if (err.code?.endsWith("_window_closed"))
      return _("The {channel} reply window is closed: send an approved template instead.", {
        channel: channelLabel(err.code.replace(/_window_closed$/, "")),
      });
    if (err.code === "network") return _("Cannot reach the server");
    return err.message;
  }
  return String(err);
}

// ------------------------------------------------------------------ login

function showLogin(message) {
  $("inbox-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  $("login-email").focus();
}

async function onLogin(e) {
  e.preventDefault();
  const email = $("login-email").value.trim();
  const password = $("login-password").value;
  const err = $("login-error");
  if (!email || !password) {
    err.textContent = _("Enter your email and password.");
    return;
  }
  err.textContent = "";
  const btn = e.submitter || $("login-form").querySelector("button");
  btn.disabled = true;
  try {
    const { access_token } = await api.login(email, password);
    saveToken(access_token, $("login-remember").checked);
    $("login-password").value = "";
    await startInbox();
  } catch (ex) {
    err.textContent =
      ex instanceof ApiError && ex.status === 401 ? _("Wrong email or password.") : explain(ex);
  } finally {
    btn.disabled = false;
  }
}

function logout(message) {
  if (S.live) S.live.stop();
  S.live = null;
  clearInterval(S.ticker);
  clearToken();
  S.convs.clear();
  S.messages.clear();
  S.selected = null;
  S.lastId = null;
  showLogin(message);
}

// ------------------------------------------------------------------ inbox

async function startInbox() {
  let me;
  try {
    me = await api.me();
  } catch (ex) {
    if (ex instanceof ApiError && ex.status === 401) return; // handler shows the login
    showLogin(explain(ex));
    return;
  }
  // The operator's saved language wins over the browser's; a change re-renders the page.
  if (I.use(me.language ?? null)) {
    location.reload();
    return;
  }
  S.me = me;
  $("lang-select").value = me.language || "";
  const [operators, channels, channelTypes] = await Promise.all([
    api.operators().catch(() => []),
    api.channels().catch(() => []),
    api.channelTypes().catch(() => []),
  ]);
  S.channelTypes = new Map(channelTypes.map((t) => [t.type, t]));
  S.operators = new Map(operators.map((o) => [o.id, o]));
  S.operators.set(me.id, { ...S.operators.get(me.id), ...me });
  S.channels = new Map(channels.map((c) => [c.id, c]));
  await loadLabels();
  await setupViews({
    operators,
    me: () => S.me?.id,
    onChange: (tab) => setFilter(tab || S.filter),
    onCounts: (counts) => document.dispatchEvent(new CustomEvent("chatcentre:counts", { detail: counts })),
    onError: (ex) => toast(explain(ex)),
    label: labelFilter,
  });
  $("login-view").hidden = true;
  $("inbox-view").hidden = false;
  $("me-name").textContent = me.name;
  $("presence").value = me.presence === "away" ? "away" : "online";
  setFilterButtons();
  closeThread();
  S.live = new LiveFeed({
    getTicket: () => api.wsTicket(),
    lastId: () => S.lastId,
    onEvent,
    onReady,
    onState: setConnState,
    onUnauthorized: () => logout(_("Your session ended. Sign in again.")),
  });
  S.live.start();
  clearInterval(S.ticker);
  S.ticker = setInterval(() => {
    renderList();
    if (S.selected) renderThreadHead();
  }, 20000);
}

function setConnState(state) {
  const el = $("conn-status");
  el.dataset.state = state;
  el.textContent = {
    connecting: _("Connecting…"),
    live: _("Live"),
    reconnecting: _("Reconnecting…"),
    offline: _("Offline"),
  }[state];
}

async function onReady(again) {
  // Catch-up: the server replayed messages after our last id; lists and the open
  // conversation are re-read because conversation events are not replayed.
  if (again) document.body.dataset.reconnects = String(Number(document.body.dataset.reconnects || 0) + 1);
  await loadList();
  if (S.selected) await refreshThread();
  flushOutbox(); // replies written while the server was out of reach
}

function bumpLastId(id) {
  if (S.lastId === null || id > S.lastId) S.lastId = id;
}

function onEvent(ev) {
  const type = ev.type || "";
  // For views.js (counts), notify.js (title, notifications): ev plus what the list knows.
  document.dispatchEvent(new CustomEvent("chatcentre:event", { detail: { ev, me: S.me, convs: S.convs, selected: S.selected } }));
  if (type.startsWith("message.")) {
    const msg = ev.data;
    bumpLastId(msg.id);
    if (ev.conversation) upsertConv(ev.conversation);
    const prev = S.previews.get(msg.conversation_id);
    if (!prev || prev.id <= msg.id) S.previews.set(msg.conversation_id, msg);
    if (msg.conversation_id === S.selected) {
      upsertMessage(msg);
      if (type === "message.created" && msg.direction === "inbound" && document.hasFocus())
        scheduleMarkRead();
      scheduleContactRefresh();
    }
    scheduleRenderList();
  } else if (type.startsWith("conversation.")) {
    if (ev.data && ev.data.id) {
      upsertConv(ev.data);
      if (ev.data.id === S.selected) renderThreadHead();
    }
  } else if (type === "leads.dropped") {
    const d = ev.data || {};
    notice(
      ngettext(
        "{n} of your leads dropped before the seventh touch on {on}.",
        "{n} of your leads dropped before the seventh touch on {on}.",
        d.count,
        { on: d.on ? I.date(d.on) : "" }
      ),
      "/reports#dropped",
      _("See the list")
    );
  } else if (type === "typing") {
    if (ev.data?.conversation_id === S.selected) showTyping();
  } else if (type === "operator.presence") {
    const d = ev.data || {};
    if (S.me && d.operator_id === S.me.id && d.presence !== "offline")
      $("presence").value = d.presence === "away" ? "away" : "online";
    const op = S.operators.get(d.operator_id);
    if (op) {
      op.presence = d.presence;
      if (S.selected) renderAssign();
    }
  }
}

// ------------------------------------------------------------------ the list

function matches(c) {
  if (!passesLabelFilter(c) || !passesViewFilter(c)) return false;
  switch (S.filter) {
    case "mine":
      return c.assignee_id === S.me.id && c.status !== "resolved";
    case "queue":
      return c.assignee_id === null && c.status !== "resolved" && c.status !== "bot";
    case "resolved":
      return c.status === "resolved";
    default:
      return true;
  }
}

function filterParams() {
  const params = {
    mine: { assignee: "me" },
    queue: { assignee: "none" },
    all: {},
    resolved: { status: "resolved" },
  }[S.filter];
  return { ...params, ...viewParams(), ...(labelFilter() ? { label: labelFilter() } : {}) };
}

function upsertConv(c) {
  c._rx = Date.now();
  S.convs.set(c.id, c);
  scheduleRenderList();
}

async function loadList(more = false) {
  const params = { ...filterParams(), limit: 50 };
  if (more && S.nextCursor) params.cursor = S.nextCursor;
  const asked = Date.now();
  try {
    const page = await api.conversations(params);
    if (!more) {
      // Drop what the page replaces, but not what a live event brought while it loaded
      // (the page may have been read before that conversation existed).
      for (const [id, c] of S.convs) if (c._rx < asked && matchesFilterOf(c)) S.convs.delete(id);
    }
    for (const c of page.items) upsertConv(c);
    S.nextCursor = page.next_cursor;
    $("conv-more").hidden = !page.next_cursor;
    refreshCounts(labelFilter());
  } catch (ex) {
    if (ex.status !== 401) toast(explain(ex));
  }
  renderList();
}

function matchesFilterOf(c) {
  // Conversations the current filter's query would return (so a reload can drop stale ones).
  return c.id !== S.selected && matches(c);
}

let listFrame = 0;
function scheduleRenderList() {
  if (!listFrame) listFrame = requestAnimationFrame(() => ((listFrame = 0), renderList()));
}

function renderList() {
  if (!S.me) return;
  const list = $("conv-list");
  const focused = document.activeElement?.closest?.(".conv")?.dataset.id;
  const items = [...S.convs.values()]
    .filter(matches)
    .sort(compareConvs);
  list.replaceChildren(...items.map(convItem));
  $("conv-empty").hidden = items.length > 0;
  if (focused) list.querySelector(`.conv[data-id="${focused}"]`)?.focus();
}

function waitingSeconds(c) {
  if (c.waiting_seconds === null || c.waiting_seconds === undefined) return null;
  return c.waiting_seconds + (Date.now() - c._rx) / 1000;
}

function convItem(c) {
  const name = contactName(c);
  const preview = S.previews.get(c.id);
  const previewText = preview
    ? (preview.private ? _("Note: ") : preview.direction === "outbound" ? _("You: ") : "") +
      (preview.text || (preview.attachments?.length ? _("Attachment") : preview.kind))
    : c.last_message // the API's, until a live message replaces it
      ? (c.last_message.sender_type === "operator" ? _("Operator: ") : "") +
        (c.last_message.preview || _("Attachment"))
      : `${channelLabel(c.channel_type)} · ${channelName(c.channel_id)}`;
  const wait = waitingSeconds(c);
  const ago = (Date.now() - new Date(c.last_activity_at).getTime()) / 1000;
  const assignee = operatorName(c.assignee_id);
  const unread = c.unread_count > 0;
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: `conv${unread ? " conv-unread" : ""}`,
        "data-id": c.id,
        "aria-current": c.id === S.selected ? "true" : null,
        onclick: () => selectConv(c.id),
      },
      avatar(name, c.channel_type),
      h(
        "span",
        { class: "conv-main" },
        h(
          "span",
          { class: "conv-top" },
          h("span", { class: "conv-name" }, name),
          h("time", { class: "conv-time", datetime: c.last_activity_at }, shortAgo(Math.max(0, ago)))
        ),
        h("span", { class: "conv-preview" }, previewText),
        labelChips(c.labels),
        h(
          "span",
          { class: "conv-bottom" },
          h(
            "span",
            { class: `assignee${assignee ? "" : " assignee-none"}` },
            assignee || _("Unassigned")
          ),
          ["resolved", "snoozed", "bot"].includes(c.status) ? h("span", { class: `tag tag-${c.status}` }, label(STATUS_LABELS, c.status)) : null,
          wait !== null
            ? h(
                "span",
                { class: `wait${wait > 300 ? " wait-late" : ""}`, title: _("Waiting for a reply") },
                `${shortAgo(wait)}`
              )
            : null,
          unread
            ? h(
                "span",
                { class: "unread", "aria-label": ngettext("{n} unread", "{n} unread", c.unread_count) },
                String(c.unread_count)
              )
            : null
        )
      )
    )
  );
}

function setFilterButtons() {
  for (const b of document.querySelectorAll(".filter"))
    b.setAttribute("aria-pressed", String(b.dataset.filter === S.filter));
}

async function setFilter(f) {
  S.filter = f;
  sessionStorage.setItem("chatcentre.filter", f);
  setFilterButtons();
  S.nextCursor = null;
  renderList();
  await loadList();
}

// ------------------------------------------------------------------ the conversation

function closeThread() {
  S.selected = null;
  $("thread-body").hidden = true;
  $("thread-placeholder").hidden = false;
  $("contact-body").replaceChildren(
    h("p", { class: "empty" }, _("The client's card shows here."))
  );
}

async function selectConv(id) {
  const changed = S.selected !== id;
  S.selected = id;
  document.querySelector(".panes").dataset.mobile = "thread";
  $("thread-placeholder").hidden = true;
  $("thread-body").hidden = false;
  if (changed) {
    setContactOpen(false); // a drawer (narrow screens) shows the conversation first
    S.messages.clear();
    $("messages").replaceChildren();
    S.pending = null;
    restoreDraft(id);
    $("template-form").hidden = true;
    $("template-toggle").setAttribute("aria-expanded", "false");
  }
  renderList();
  renderThreadHead();
  await refreshThread();
  if (S.selected !== id) return;
  $("composer-text").focus();
  markRead();
  loadContact();
  loadTemplates();
}

async function refreshThread() {
  const id = S.selected;
  try {
    const [conv, page] = await Promise.all([api.conversation(id), api.messages(id, { limit: 100 })]);
    if (S.selected !== id) return;
    upsertConv(conv);
    for (const m of page.items) {
      upsertMessage(m);
      bumpLastId(m.id);
      const prev = S.previews.get(id);
      if (!prev || prev.id <= m.id) S.previews.set(id, m);
    }
    renderThreadHead();
  } catch (ex) {
    if (ex.status === 403 || ex.status === 404) {
      toast(_("This conversation is no longer yours to see."));
      S.convs.delete(id);
      closeThread();
      renderList();
    } else if (ex.status !== 401) toast(explain(ex));
  }
}

function renderThreadHead() {
  const c = S.convs.get(S.selected);
  if (!c) return;
  const name = contactName(c);
  $("thread-title").textContent = name;
  const wait = waitingSeconds(c);
  const meta = [
    channelIcon(c.channel_type),
    h("span", {}, `${channelLabel(c.channel_type)} · ${channelName(c.channel_id)}`),
    h("span", { class: `tag tag-${c.status}` }, label(STATUS_LABELS, c.status)),
    h(
      "span",
      {},
      operatorName(c.assignee_id)
        ? _("Assigned to {name}", { name: operatorName(c.assignee_id) })
        : _("In the queue")
    ),
  ];
  if (wait !== null)
    meta.push(h("span", { class: `wait${wait > 300 ? " wait-late" : ""}` }, _("Waiting {time}", { time: longWait(wait) })));
  $("thread-meta").replaceChildren(...meta);
  renderLabelEditor($("thread-labels"), c, {
    onSaved: (changed) => (upsertConv(changed), renderThreadHead()),
    onError: (ex) => toast(explain(ex)),
  });
  $("status-btn").textContent = c.status === "resolved" ? _("Reopen") : _("Resolve");
  renderAssign();
  renderSnooze(c, { onChanged: (x) => (upsertConv(x), renderThreadHead()), onError: (ex) => toast(explain(ex)) });
  renderWindow(c);
}

const meName = (name) => _("{name} (me)", { name });

function renderAssign() {
  const c = S.convs.get(S.selected);
  if (!c) return;
  const sel = $("assign-select");
  const dot = { online: "●", away: "◐", offline: "○" };
  const ops = [...S.operators.values()].filter((o) => o.is_active !== false);
  ops.sort((a, b) => (a.id === S.me.id ? -1 : b.id === S.me.id ? 1 : a.name.localeCompare(b.name)));
  sel.replaceChildren(
    h("option", { value: "" }, _("Queue (unassigned)")),
    ...ops.map((o) =>
      h(
        "option",
        { value: String(o.id) },
        (dot[o.presence] || "○") + " " + (o.id === S.me.id ? meName(o.name) : o.name)
      )
    )
  );
  sel.value = c.assignee_id === null ? "" : String(c.assignee_id);
  $("assign-btn").textContent = c.assignee_id === null ? _("Assign") : _("Transfer");
}

function renderWindow(c) {
  const banner = $("window-banner");
  if (!c.reply_window_expires_at) {
    banner.hidden = true;
    return;
  }
  const until = new Date(c.reply_window_expires_at);
  const open = c.reply_window_open ?? until > new Date();
  banner.hidden = false;
  banner.className = `banner ${open ? "banner-info" : "banner-warn"}`;
  const label = channelLabel(c.channel_type);
  const at = fmtTime(c.reply_window_expires_at);
  banner.textContent = open
    ? _("{channel} reply window open until {time} ({left} left).", {
        channel: label,
        time: at,
        left: longWait((until - Date.now()) / 1000),
      })
    : _("The {channel} reply window closed at {time}: only an approved template can be sent.", {
        channel: label,
        time: at,
      });
}

const teamWord = () => _("Team");

function messageEl(m) {
  const cls =
    m.private || m.direction === "internal"
      ? "msg-note"
      : m.direction === "inbound"
        ? "msg-in"
        : "msg-out";
  const who =
    m.private || m.direction === "internal"
      ? _("Private note · {name}", { name: operatorName(m.operator_id) || teamWord() })
      : m.direction === "outbound"
        ? operatorName(m.operator_id) || (m.sender_type === "integration" ? _("Integration") : _("System"))
        : m.sender_name || null; // someone in a group, a colleague on a mail thread
  const atts = (m.attachments || []).map((a, i) =>
    h(
      "li",
      {},
      a.type === "image" && String(a.content_type || a.mime_type || "image/").startsWith("image/")
        ? inlineImage(m.id, i, a)
        : null,
      h(
        "button",
        { type: "button", class: "att", onclick: () => download(m.id, i, a) },
        h("span", { class: "att-icon", "aria-hidden": "true" }),
        h("span", {}, a.file_name || a.filename || a.caption || a.type || _("Attachment")),
        a.file_size
          ? h("span", { class: "muted" }, " " + _("{n} KB", { n: Math.ceil(a.file_size / 1024) }))
          : null
      )
    )
  );
  const state = m.direction === "outbound" && m.delivery_state ? m.delivery_state : null;
  return h(
    "li",
    { class: `msg ${cls}`, "data-id": m.id, "data-state": state },
    h(
      "div",
      { class: "bubble" },
      who ? h("div", { class: "msg-who" }, who) : null,
      m.subject ? h("div", { class: "msg-subject" }, m.subject) : null,
      m.text ? h("p", { class: "msg-text" }, m.text) : null,
      m.original_text ? originalToggle(m) : null,
      !m.text && !atts.length ? h("p", { class: "msg-text muted" }, `[${m.kind}]`) : null,
      atts.length ? h("ul", { class: "atts", "aria-label": _("Attachments") }, atts) : null
    ),
    h(
      "div",
      { class: "msg-meta" },
      h("time", { datetime: m.created_at }, fmtTime(m.created_at)),
      m.edited_at ? h("span", {}, _("edited")) : null,
      state
        ? h(
            "span",
            { class: `state state-${state}`, title: label(STATE_LABELS, state) },
            label(STATE_LABELS, state)
          )
        : null,
      state === "failed" && m.failure_reason
        ? h("span", { class: "failure" }, m.failure_reason)
        : null
    )
  );
}

// A mail shows its new text; the whole of it (quotes, signature) on demand.
function originalToggle(m) {
  const full = h("pre", { class: "msg-original", hidden: true }, m.original_text);
  const button = h(
    "button",
    {
      type: "button",
      class: "link",
      "aria-expanded": "false",
      onclick: () => {
        full.hidden = !full.hidden;
        button.setAttribute("aria-expanded", String(!full.hidden));
        button.textContent = full.hidden ? _("Original mail") : _("Hide original");
      },
    },
    _("Original mail")
  );
  return h("div", { class: "msg-original-wrap" }, button, full);
}

function upsertMessage(m) {
  if (m.conversation_id !== S.selected) return;
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const el = messageEl(m);
  const old = list.querySelector(`.msg[data-id="${m.id}"]`);
  S.messages.set(m.id, m);
  if (old) {
    old.replaceWith(el);
  } else {
    let next = null;
    for (const child of list.children) {
      if (Number(child.dataset.id) > m.id) {
        next = child;
        break;
      }
    }
    list.insertBefore(el, next);
  }
  if (nearBottom || !old) list.scrollTop = list.scrollHeight;
}

async function download(messageId, index, a) {
  try {
    const res = await api.attachment(messageId, index);
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: a.file_name || a.filename || `attachment-${messageId}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (ex) {
    toast(explain(ex));
  }
}

// Typing: the visitor's shows under the thread for 5 s; ours goes out at most every 2 s
// (only replies: a note is not for the client's eyes).
let typingTimer = 0;
function showTyping() {
  $("typing").textContent = _("The client is typing…");
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => ($("typing").textContent = ""), 5000);
}
let typedAt = 0;
function signalTyping() {
  if (S.mode !== "reply" || !S.selected || Date.now() - typedAt < 2000) return;
  typedAt = Date.now();
  S.live?.send({ type: "typing", conversation_id: S.selected });
}

let readTimer = 0;
function scheduleMarkRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, 400);
}

async function markRead() {
  const c = S.convs.get(S.selected);
  if (!c || !c.unread_count) return;
  try {
    upsertConv(await api.markRead(c.id));
  } catch {
    /* not ours any more, or offline: harmless */
  }
}

// ------------------------------------------------------------------ sending

function setMode(mode) {
  S.mode = mode;
  $("composer").dataset.mode = mode;
  for (const t of document.querySelectorAll(".composer-tabs .tab[data-mode]"))
    t.setAttribute("aria-pressed", String(t.dataset.mode === mode));
  $("composer-text").placeholder =
    mode === "note"
      ? _("Write a private note for your team (the client never sees it)…")
      : _("Type a reply… (Enter sends, Shift+Enter for a new line)");
  $("send-btn").textContent = mode === "note" ? _("Add note") : _("Send");
  $("composer-text").focus();
}

async function sendReply(e) {
  e?.preventDefault();
  const box = $("composer-text");
  const text = box.value.trim();
  const id = S.selected;
  const files = S.mode === "reply" ? S.files.ids() : [];
  if ((!text && !files.length) || !id) return;
  if (S.files.busy) return toast(_("Wait until the files are uploaded"));
  if (!S.pending || S.pending.text !== text || S.pending.mode !== S.mode || S.pending.conv !== id)
    S.pending = { text, mode: S.mode, conv: id, cid: newClientId() };
  const btn = $("send-btn");
  btn.disabled = true;
  try {
    const msg = await api.send(id, {
      text: text || null,
      private: S.mode === "note",
      client_message_id: S.pending.cid,
      ...(files.length ? { attachment_ids: files } : {}),
    });
    S.pending = null;
    if (files.length) S.files.clear();
    if (box.value.trim() === text) box.value = "";
    clearDraft(id);
    upsertMessage(msg);
    bumpLastId(msg.id);
    S.previews.set(id, msg);
    scheduleRenderList();
  } catch (ex) {
    const reply = { conv: id, text, private: S.mode === "note", cid: S.pending.cid, attachment_ids: files };
    if (holdForLater(ex, reply)) {
      S.pending = null;
      if (files.length) S.files.clear(); // uploaded already: they go with the reply
      if (box.value.trim() === text) box.value = "";
    } else toast(explain(ex));
  } finally {
    btn.disabled = false;
    box.focus();
  }
}

async function loadTemplates() {
  const c = S.convs.get(S.selected);
  const toggle = $("template-toggle");
  toggle.hidden = true;
  if (!c || !S.channelTypes.get(c.channel_type)?.capabilities.templates) return;
  let list = S.templates.get(c.channel_id);
  if (list === undefined) {
    try {
      list = (await api.templates(c.channel_id)).templates || [];
    } catch {
      list = []; // no template API (or not allowed): no picker
    }
    S.templates.set(c.channel_id, list);
  }
  if (S.selected !== c.id || !list.length) return;
  toggle.hidden = false;
  const sel = $("template-select");
  sel.replaceChildren(
    ...list.map((t, i) => h("option", { value: String(i) }, `${t.name} (${t.language})`))
  );
  renderTemplateParams();
}

function renderTemplateParams() {
  const c = S.convs.get(S.selected);
  const t = (S.templates.get(c?.channel_id) || [])[Number($("template-select").value)];
  const box = $("template-params");
  box.replaceChildren();
  for (let i = 1; i <= (t?.parameters || 0); i++) {
    const inputId = `template-param-${i}`;
    box.append(
      h("label", { for: inputId }, _("Parameter {param}", { param: `{{${i}}}` })),
      h("input", { id: inputId, type: "text", class: "template-param", required: true })
    );
  }
}

async function sendTemplate() {
  const c = S.convs.get(S.selected);
  const t = (S.templates.get(c?.channel_id) || [])[Number($("template-select").value)];
  if (!c || !t) return;
  const parameters = [...document.querySelectorAll(".template-param")].map((i) => i.value);
  if (parameters.some((p) => !p.trim())) {
    toast(_("Fill in every parameter of the template."));
    return;
  }
  try {
    const msg = await api.send(c.id, {
      template: { name: t.name, language: t.language, parameters },
      client_message_id: newClientId(),
    });
    upsertMessage(msg);
    $("template-form").hidden = true;
    $("template-toggle").setAttribute("aria-expanded", "false");
  } catch (ex) {
    toast(explain(ex));
  }
}

// ------------------------------------------------------------------ assign, status

async function assign() {
  const c = S.convs.get(S.selected);
  if (!c) return;
  const value = $("assign-select").value;
  const target = value === "" ? null : Number(value);
  if (target === c.assignee_id) return;
  try {
    upsertConv(await api.assign(c.id, target));
    renderThreadHead();
    toast(
      target === null
        ? _("Sent back to the queue.")
        : _("Assigned to {name}.", { name: operatorName(target) }),
      "ok"
    );
  } catch (ex) {
    toast(explain(ex));
    renderAssign();
  }
}

async function toggleStatus() {
  const c = S.convs.get(S.selected);
  if (!c) return;
  try {
    upsertConv(await api.setStatus(c.id, c.status === "resolved" ? "open" : "resolved"));
    renderThreadHead();
  } catch (ex) {
    toast(explain(ex));
  }
}

// ------------------------------------------------------------------ contact card

let contactTimer = 0;
function scheduleContactRefresh() {
  clearTimeout(contactTimer);
  contactTimer = setTimeout(loadContact, 1500);
}

async function loadContact() {
  const c = S.convs.get(S.selected);
  if (!c) return;
  await renderContactCard(c, cardUi, () => S.selected === c.id);
}

// What the contact card (contactcard.js) borrows from here.
const cardUi = {
  h, avatar, channelIcon, channelLabel, operatorName, contactName, fmtTime, explain, I,
  get channels() { return S.channels; },
  get channelTypes() { return S.channelTypes; },
  get operators() { return S.operators; },
  openConversation: (id) => (id === S.selected ? null : openFromSearch(id)),
  onContactChanged: (contact) => {
    for (const c of S.convs.values()) if (c.contact.id === contact.id) c.contact = { ...c.contact, name: contact.name };
    renderList();
    renderThreadHead();
  },
};

// ------------------------------------------------------------------ wiring

// The contact card is a drawer on narrow screens (phone.css): it opens and closes.
function setContactOpen(open) {
  document.querySelector(".panes").dataset.contact = open ? "open" : "";
  $("contact-toggle").setAttribute("aria-expanded", String(open));
}

function wire() {
  setUnauthorizedHandler(() => logout(_("Your session ended. Sign in again.")));
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", () => logout());
  setupSearch();
  setupNotify({ open: openFromSearch, toast });
  setupOutbox({
    selected: () => S.selected,
    onSent: (msg) => (upsertMessage(msg), bumpLastId(msg.id), S.previews.set(msg.conversation_id, msg), scheduleRenderList()),
    toast,
  });
  setupLabelFilter(() => setFilter(S.filter));
  setupCanned(() => S.selected, (ex) => toast(explain(ex)));
  setupMacros(() => S.selected, (ex) => toast(explain(ex)), (text) => toast(text, "ok"));
  for (const b of document.querySelectorAll(".filter"))
    b.addEventListener("click", () => (leaveView(), setFilter(b.dataset.filter)));
  $("conv-more").addEventListener("click", () => loadList(true));
  $("conv-list").addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const buttons = [...$("conv-list").querySelectorAll(".conv")];
    const i = buttons.indexOf(document.activeElement);
    const next = buttons[i + (e.key === "ArrowDown" ? 1 : -1)];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  });
  $("composer").addEventListener("submit", sendReply);
  S.files = new ComposerFiles({ zone: $("composer"), list: $("composer-files"), onError: toast });
  $("composer-text").addEventListener("input", signalTyping);
  $("composer-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendReply();
    }
  });
  for (const t of document.querySelectorAll(".composer-tabs .tab[data-mode]"))
    t.addEventListener("click", () => setMode(t.dataset.mode));
  $("template-toggle").addEventListener("click", () => {
    const form = $("template-form");
    form.hidden = !form.hidden;
    $("template-toggle").setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) $("template-select").focus();
  });
  $("template-select").addEventListener("change", renderTemplateParams);
  $("template-send").addEventListener("click", sendTemplate);
  $("assign-btn").addEventListener("click", assign);
  $("status-btn").addEventListener("click", toggleStatus);
  $("back").addEventListener("click", () => {
    setContactOpen(false);
    document.querySelector(".panes").dataset.mobile = "list";
    document.querySelector(`.conv[data-id="${S.selected}"]`)?.focus();
  });
  $("contact-toggle").addEventListener("click", () =>
    setContactOpen(document.querySelector(".panes").dataset.contact !== "open")
  );
  $("contact-close").addEventListener("click", () => {
    setContactOpen(false);
    $("contact-toggle").focus();
  });
  $("lang-select").addEventListener("change", async (e) => {
    const language = e.target.value || null;
    try {
      S.me = await api.updateMe({ language });
    } catch (ex) {
      toast(explain(ex));
      return;
    }
    if (I.use(language)) location.reload();
  });
  $("presence").addEventListener("change", async (e) => {
    try {
      await api.presence(S.me.id, e.target.value);
    } catch (ex) {
      toast(explain(ex));
    }
  });
  window.addEventListener("focus", () => S.selected && markRead());
}

await window.i18n.ready; // the catalogue, before anything renders
wire();
if (savedToken()) startInbox();
else showLogin();

// ------------------------------------------------------------------ search (top bar)

let searchTimer = null;
let searchSeq = 0;

function setupSearch() {
  const input = $("search-q");
  input.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(input.value.trim()), 250);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeSearch();
  });
}

function closeSearch() {
  $("search-results").hidden = true;
}

async function openFromSearch(conversationId) {
  closeSearch();
  if (!S.convs.has(conversationId)) upsertConv(await api.conversation(conversationId));
  await selectConv(conversationId);
}

async function runSearch(q) {
  const box = $("search-results");
  if (!q) return closeSearch();
  const seq = ++searchSeq;
  let got;
  try {
    got = await api.search(q);
  } catch {
    return;
  }
  if (seq !== searchSeq) return; // a newer query answered first
  const group = (title, items, render) =>
    items.length ? h("section", { class: "search-group" }, h("h3", { text: title }), items.map(render)) : null;
  const hit = (conversationId, ...children) =>
    h("button", { type: "button", class: "search-hit", disabled: !conversationId,
      onclick: () => conversationId && openFromSearch(conversationId) }, ...children);
  const snippet = (html) => {
    const span = h("span", { class: "search-snippet" });
    span.innerHTML = html; // escaped by the server; only <mark> is markup
    return span;
  };
  const groups = [
    group(_("Contacts"), got.contacts.items, (c) =>
      hit(c.conversation_id, h("strong", { text: c.name || c.phone || c.email || `#${c.id}` }),
        h("span", { class: "muted", text: [c.phone, c.email].filter(Boolean).join(" · ") }))),
    group(_("Conversations"), got.conversations.items, (c) =>
      hit(c.id, h("strong", { text: c.contact.name || `#${c.id}` }),
        h("span", { class: "muted", text: `${channelLabel(c.channel_type)} · ${label(STATUS_LABELS, c.status)}` }))),
    group(_("Messages"), got.messages.items, (m) =>
      hit(m.conversation_id, h("strong", { text: m.contact.name || `#${m.conversation_id}` }),
        snippet(m.snippet_html))),
  ].filter(Boolean);
  box.replaceChildren(...(groups.length ? groups : [h("p", { class: "muted", text: _("Nothing found") })]));
  box.hidden = false;
}
