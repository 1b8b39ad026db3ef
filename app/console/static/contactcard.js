// The contact card: who the client is (editable: name, phone, email, stage, category by its
// name, owner; PATCH /contacts/{id}), their channels as readable identities (never a raw
// code such as visitor:a6e3...), and the timeline of what happened (messages with their
// text, stage and status changes, assignments, orders), each linked to its message: a click
// opens the conversation and scrolls to it.

import { api, request } from "./api.js";

// Marked with N_ for the catalogue, translated with _() when shown.
const TOUCH_LABELS = {
  message: N_("Message"),
  notification: N_("Notification"),
  assignment: N_("Assignment"),
  status_change: N_("Status change"),
  survey: N_("Survey"),
  note: N_("Note"),
  call: N_("Call"),
  meeting: N_("Meeting"),
  button: N_("Button press"),
  delivery_failure: N_("Delivery failure"),
  email: N_("Email"),
  stage_change: N_("Stage change"),
  alert: N_("Alert"),
};
const STAGE_LABELS = {
  lead: N_("lead"),
  qualified: N_("qualified"),
  customer: N_("customer"),
  lost: N_("lost"),
};
const STATUS_LABELS = { open: N_("open"), pending: N_("pending"), snoozed: N_("snoozed"), resolved: N_("resolved") };
const DIRECTION_LABELS = { inbound: N_("inbound"), outbound: N_("outbound") };
const REACTION_LABELS = { positive: N_("positive"), negative: N_("negative"), neutral: N_("neutral") };
const label = (table, key) => (table[key] ? _(table[key]) : key);

const C = { categories: null, ui: null, editing: null };

async function categories() {
  if (C.categories === null) C.categories = await request("GET", "/api/v1/categories").catch(() => []);
  return C.categories;
}

/** A channel identity as a person reads it: @username, a name, a phone or an address;
 * otherwise the channel and its contact noun ("Web chat · Visitor"), never the raw id. */
export function readableIdentity(identity, type, ui) {
  if (identity.username) return `@${identity.username}`;
  if (identity.display_name) return identity.display_name;
  const id = identity.external_id || "";
  if (/^\+?\d{7,15}$/.test(id) && ["whatsapp", "sms"].includes(type)) return `+${id.replace(/^\+/, "")}`;
  if (/^[^@\s:]+@[^@\s]+\.[^@\s]+$/.test(id)) return id;
  const noun = ui.channelTypes.get(type)?.contact_noun;
  return noun ? _(noun) : _("Client");
}

function touchDetail(t, ui) {
  const m = t.meta || {};
  if (t.preview) return t.preview;
  if (t.kind === "stage_change" && m.to) return `${label(STAGE_LABELS, m.from) || "—"} → ${label(STAGE_LABELS, m.to)}`;
  if (t.kind === "status_change" && m.to) return `${label(STATUS_LABELS, m.from)} → ${label(STATUS_LABELS, m.to)}`;
  if (t.kind === "assignment")
    return m.to ? _("To {name}", { name: ui.operatorName(m.to) }) : _("Back to the queue");
  if (m.order) return _("Order {order}", { order: m.order });
  if (m.note) return m.note;
  if (m.reason) return m.reason;
  return null;
}

/** Opens the conversation and scrolls to the message (when it is among those loaded). */
async function openAt(ui, conversationId, messageId) {
  await ui.openConversation(conversationId);
  if (!messageId) return;
  for (let i = 0; i < 20; i++) {
    const el = document.querySelector(`#messages .msg[data-id="${messageId}"]`);
    if (el) {
      el.scrollIntoView({ block: "center" });
      el.classList.add("msg-flash");
      setTimeout(() => el.classList.remove("msg-flash"), 2000);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function timeline(touches, ui) {
  const { h } = ui;
  if (!touches.length) return h("p", { class: "empty" }, _("No touchpoints yet."));
  return h(
    "ol",
    { class: "timeline" },
    touches.map((t) => {
      const detail = touchDetail(t, ui);
      const where = t.channel === "internal" ? _("internal") : ui.channelLabel(t.channel);
      const body = [
        h(
          "div",
          { class: "tp-title" },
          `${label(TOUCH_LABELS, t.kind)}${t.direction && t.direction !== "internal" ? ` · ${label(DIRECTION_LABELS, t.direction)}` : ""}`
        ),
        h(
          "div",
          { class: "muted" },
          `${where} · ${ui.fmtTime(t.occurred_at)}${t.reaction !== "unknown" ? ` · ${label(REACTION_LABELS, t.reaction)}` : ""}`
        ),
        detail ? h("p", { class: "tp-note" }, detail) : null,
      ];
      return h(
        "li",
        { class: `tp tp-${t.reaction}`, "data-kind": t.kind },
        h("span", { class: "tp-dot", "aria-hidden": "true" }),
        t.conversation_id
          ? h(
              "button",
              {
                type: "button",
                class: "tp-link",
                title: _("Open in the conversation"),
                onclick: () => openAt(ui, t.conversation_id, t.message_id),
              },
              ...body
            )
          : h("div", {}, ...body)
      );
    })
  );
}

function field(h, id, text, input) {
  return [h("label", { for: id }, text), input];
}

function editForm(contact, cats, ui, onSaved) {
  const { h } = ui;
  const input = (id, value, type = "text") => h("input", { id, type, value: value || "", maxlength: type === "email" ? 320 : 300 });
  const opts = (pairs, current) =>
    pairs.map(([v, t]) => h("option", { value: v, selected: String(current ?? "") === v ? true : null }, t));
  const error = h("p", { class: "form-error", role: "alert" });
  const ops = [...ui.operators.values()].filter((o) => o.is_active !== false);
  const form = h(
    "form",
    { class: "contact-edit", novalidate: true },
    ...field(h, "ce-name", _("Name"), input("ce-name", contact.name)),
    ...field(h, "ce-phone", _("Phone"), input("ce-phone", contact.phone, "tel")),
    ...field(h, "ce-email", _("Email"), input("ce-email", contact.email, "email")),
    ...field(h, "ce-stage", _("Stage"), h("select", { id: "ce-stage" }, opts(Object.keys(STAGE_LABELS).map((s) => [s, label(STAGE_LABELS, s)]), contact.stage))),
    ...field(h, "ce-category", _("Category"), h("select", { id: "ce-category" }, opts([["", "—"], ...cats.map((c) => [c.code, c.name])], contact.category))),
    ...field(h, "ce-owner", _("Owner"), h("select", { id: "ce-owner" }, opts([["", _("Nobody")], ...ops.map((o) => [String(o.id), o.name])], contact.owner_id))),
    error,
    h(
      "div",
      { class: "contact-edit-actions" },
      h("button", { type: "submit", class: "btn btn-primary" }, _("Save")),
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => onSaved(null) }, _("Cancel"))
    )
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const val = (id) => form.querySelector(`#${id}`).value.trim();
    const next = {
      name: val("ce-name") || null,
      phone: val("ce-phone") || null,
      email: val("ce-email") || null,
      stage: val("ce-stage"),
      category: val("ce-category") || null,
      owner_id: val("ce-owner") ? Number(val("ce-owner")) : null,
    };
    const body = {};
    for (const [k, v] of Object.entries(next)) if ((contact[k] ?? null) !== v) body[k] = v;
    if (!Object.keys(body).length) return onSaved(null);
    if (body.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email)) {
      error.textContent = _("Enter an email address like name@example.com.");
      return;
    }
    try {
      onSaved(await request("PATCH", `/api/v1/contacts/${contact.id}`, body));
    } catch (ex) {
      error.textContent = ui.explain(ex); // the server's reason; what was typed stays
    }
  });
  return form;
}

/** Renders the card of conversation `c`'s client into #contact-body. `ui` holds app.js's
 * helpers (h, avatar, channelIcon, channelLabel, operatorName, contactName, fmtTime, I, the
 * maps of channels, channel types and operators, openConversation, explain). */
export async function renderContactCard(c, ui, isCurrent) {
  C.ui = ui;
  const { h } = ui;
  let contact;
  let touches = [];
  let cats;
  try {
    [contact, touches, cats] = await Promise.all([
      api.contact(c.contact.id),
      api.touchpoints(c.contact.id).then((p) => p.items).catch(() => []),
      categories(),
    ]);
  } catch (ex) {
    if (isCurrent()) document.getElementById("contact-body").replaceChildren(h("p", { class: "empty" }, ui.explain(ex)));
    return;
  }
  if (!isCurrent()) return;
  // A live refresh does not throw away what the operator is typing in the form.
  if (C.editing === contact.id && document.querySelector("#contact-body .contact-edit")) return;
  const draw = (current, editing) => {
    C.editing = editing ? current.id : null;
    const name = ui.contactName({ contact: current, channel_type: c.channel_type });
    const catName = cats.find((k) => k.code === current.category)?.name;
    const facts = [
      [_("Stage"), h("span", { class: `pill stage-${current.stage}` }, label(STAGE_LABELS, current.stage))],
      [_("Category"), catName ? h("span", { class: "pill" }, catName) : "—"],
      [_("Owner"), ui.operatorName(current.owner_id) || "—"],
      [_("Source"), current.source || "—"],
      [_("Client since"), ui.I.date(current.created_at)],
    ];
    const saved = (changed) => {
      draw(changed || current, false);
      if (changed) ui.onContactChanged(changed);
    };
    document.getElementById("contact-body").replaceChildren(
      h(
        "div",
        { class: "contact-head" },
        ui.avatar(name, null, "avatar-lg"),
        h(
          "div",
          { class: "contact-who" },
          h("h3", {}, name),
          current.email ? h("p", { class: "muted" }, current.email) : null,
          current.phone ? h("p", { class: "muted" }, current.phone) : null
        ),
        editing ? null : h("button", { type: "button", id: "contact-edit", class: "btn btn-ghost", onclick: () => draw(current, true) }, _("Edit"))
      ),
      editing ? editForm(current, cats, ui, saved) : h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h4", {}, _("Channels")),
      h(
        "ul",
        { class: "identities" },
        current.identities.map((i) => {
          const ch = ui.channels.get(i.channel_account_id);
          return h(
            "li",
            {},
            ui.channelIcon(ch?.type),
            h(
              "span",
              { class: "ident-main" },
              h("span", {}, ch ? ch.name : _("Channel #{id}", { id: i.channel_account_id })),
              h("span", { class: "muted" }, readableIdentity(i, ch?.type, ui))
            ),
            i.reachable ? null : h("span", { class: "tag tag-failed" }, _("unreachable"))
          );
        })
      ),
      h("h4", {}, _("Timeline")),
      timeline(touches, ui)
    );
    if (editing) document.getElementById("ce-name")?.focus();
  };
  draw(contact, C.editing === contact.id);
}
