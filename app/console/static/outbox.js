// Nothing typed is lost. Drafts: the reply box's text per conversation, in localStorage,
// back after a reload. Outbox: a reply that could not reach the server (offline, or the
// server down: a network error or 502/503/504) waits in localStorage with its client id and
// goes out when the connection is back; the server stores a client id once, so a reply
// whose answer was lost on the way is never stored twice.

import { ApiError, api } from "./api.js";

const DRAFT = "chatcentre.draft.";
const OUTBOX = "chatcentre.outbox";
const O = { selected: () => null, onSent: () => {}, toast: () => {}, flushing: false, timer: 0 };

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ drafts

export function saveDraft(conversationId, text) {
  if (!conversationId) return;
  if (text.trim()) localStorage.setItem(DRAFT + conversationId, text);
  else localStorage.removeItem(DRAFT + conversationId);
}

/** Puts the conversation's draft (or nothing) into the reply box. */
export function restoreDraft(conversationId) {
  $("composer-text").value = localStorage.getItem(DRAFT + conversationId) || "";
  renderOutbox();
}

export function clearDraft(conversationId) {
  localStorage.removeItem(DRAFT + conversationId);
}

// ------------------------------------------------------------------ the outbox

function items() {
  try {
    return JSON.parse(localStorage.getItem(OUTBOX) || "[]");
  } catch {
    return [];
  }
}

function store(list) {
  localStorage.setItem(OUTBOX, JSON.stringify(list));
  renderOutbox();
}

const unreachable = (ex) => ex instanceof ApiError && (ex.status === 0 || [502, 503, 504].includes(ex.status));

/** Keeps a reply that could not be sent (true), or leaves the error to the caller (false). */
export function holdForLater(ex, reply) {
  if (!unreachable(ex)) return false;
  store([...items().filter((i) => i.cid !== reply.cid), { ...reply, at: new Date().toISOString() }]);
  clearDraft(reply.conv);
  O.toast(_("No connection: the reply waits in the outbox and goes out when it is back."), "ok");
  schedule();
  return true;
}

/** Sends what waits, oldest first, each with its client id; stops at the first failure
 * to reach the server. A refusal (e.g. a closed reply window) puts the text back as the
 * conversation's draft. */
export async function flushOutbox() {
  if (O.flushing || !navigator.onLine) return;
  O.flushing = true;
  try {
    for (const item of items()) {
      try {
        const msg = await api.send(item.conv, {
          text: item.text || null,
          private: item.private,
          client_message_id: item.cid,
          ...(item.attachment_ids?.length ? { attachment_ids: item.attachment_ids } : {}),
        });
        store(items().filter((i) => i.cid !== item.cid));
        O.onSent(msg);
      } catch (ex) {
        if (unreachable(ex)) break;
        store(items().filter((i) => i.cid !== item.cid));
        if (!localStorage.getItem(DRAFT + item.conv)) saveDraft(item.conv, item.text);
        if (O.selected() === item.conv && !$("composer-text").value) restoreDraft(item.conv);
        O.toast(_("A reply from the outbox was refused: {reason}", { reason: ex.message }));
      }
    }
  } finally {
    O.flushing = false;
  }
  if (items().length) schedule();
}

function schedule() {
  clearTimeout(O.timer);
  O.timer = setTimeout(flushOutbox, 15000);
}

function renderOutbox() {
  let list = $("outbox-list");
  if (!list) {
    list = document.createElement("ol");
    list.id = "outbox-list";
    list.className = "outbox-list";
    list.setAttribute("aria-label", _("Outbox"));
    $("messages").after(list);
  }
  const mine = items().filter((i) => i.conv === O.selected());
  list.replaceChildren(
    ...mine.map((i) => {
      const li = document.createElement("li");
      li.className = `msg ${i.private ? "msg-note" : "msg-out"} msg-pending`;
      const bubble = document.createElement("div");
      bubble.className = "bubble";
      const p = document.createElement("p");
      p.className = "msg-text";
      p.textContent = i.text || _("Attachment");
      bubble.append(p);
      const meta = document.createElement("div");
      meta.className = "msg-meta";
      meta.textContent = _("Waiting to send");
      li.append(bubble, meta);
      return li;
    })
  );
  list.hidden = mine.length === 0;
}

/** `selected` gives the open conversation; `onSent` gets each message sent from the outbox. */
export function setupOutbox({ selected, onSent, toast }) {
  Object.assign(O, { selected, onSent, toast });
  $("composer-text").addEventListener("input", (e) => saveDraft(selected(), e.target.value));
  window.addEventListener("online", flushOutbox);
}
