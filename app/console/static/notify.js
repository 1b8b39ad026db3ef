// What needs the operator, noticed away from the list: a count in the page title (one's own
// chats with unread messages plus the queue, from GET /conversations/counts), browser
// notifications (opt-in: permission is asked once, when the operator turns them on) and an
// optional beep (off by default; WebAudio, no sound file), for new conversations in the
// queue and new messages in one's own chats, from the live feed's events.

const STORE_ON = "chatcentre.notify";
const STORE_SOUND = "chatcentre.sound";
const STORE_ASKED = "chatcentre.notify.asked";
const N = { open: () => {}, toast: () => {}, audio: null, told: new Set() };

const $ = (id) => document.getElementById(id);
const supported = () => "Notification" in window;
const enabled = () => localStorage.getItem(STORE_ON) === "on" && supported() && Notification.permission === "granted";
const soundOn = () => localStorage.getItem(STORE_SOUND) === "on";

/** The title's count: "(3) chatcentre console". */
export function setTitleCount(n) {
  const base = document.title.replace(/^\(\d+\) /, "");
  document.title = n > 0 ? `(${n}) ${base}` : base;
}

function beep() {
  if (!soundOn()) return;
  try {
    N.audio = N.audio || new AudioContext();
    const osc = N.audio.createOscillator();
    const gain = N.audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.12, N.audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, N.audio.currentTime + 0.25);
    osc.connect(gain).connect(N.audio.destination);
    osc.start();
    osc.stop(N.audio.currentTime + 0.25);
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  } catch {
    /* no audio device: silence */
  }
}

function tell(key, title, body, conversationId) {
  if (N.told.has(key)) return; // a replayed or repeated event tells once
  N.told.add(key);
  beep();
  if (!enabled()) return;
  const note = new Notification(title, { body, tag: key, icon: "/console/favicon.svg" });
  note.onclick = () => {
    window.focus();
    N.open(conversationId);
    note.close();
  };
}

function nameOf(c) {
  return c?.contact?.name || _("Client #{id}", { id: c?.contact?.id ?? "?" });
}

function onEvent({ ev, me, convs, selected }) {
  if (!me) return;
  const type = ev.type || "";
  if (type === "conversation.created" && ev.data?.assignee_id === null) {
    tell(`q${ev.data.id}`, _("New conversation in the queue"), nameOf(ev.data), ev.data.id);
  } else if (type === "message.created" && ev.data?.direction === "inbound") {
    const msg = ev.data;
    const c = ev.conversation || convs.get(msg.conversation_id);
    if (!c) return;
    const looking = document.hasFocus() && selected === c.id;
    if (c.assignee_id === me.id && !looking) {
      tell(`m${msg.id}`, _("New message from {name}", { name: nameOf(c) }), msg.text || _("Attachment"), c.id);
    } else if (c.assignee_id === null && !convs.has(c.id)) {
      tell(`q${c.id}`, _("New conversation in the queue"), nameOf(c), c.id);
    }
  }
}

function renderToggles() {
  const bell = $("notify-toggle");
  const sound = $("sound-toggle");
  bell.setAttribute("aria-pressed", String(enabled()));
  bell.hidden = !supported();
  sound.setAttribute("aria-pressed", String(soundOn()));
}

async function toggleNotifications() {
  if (enabled()) {
    localStorage.setItem(STORE_ON, "off");
  } else {
    if (Notification.permission === "default" && !localStorage.getItem(STORE_ASKED)) {
      localStorage.setItem(STORE_ASKED, "1"); // asked once; the browser remembers the answer
      await Notification.requestPermission();
    }
    if (Notification.permission === "granted") localStorage.setItem(STORE_ON, "on");
    else N.toast(_("The browser blocks notifications for this site: allow them in its settings."));
  }
  renderToggles();
}

function toggleSound() {
  localStorage.setItem(STORE_SOUND, soundOn() ? "off" : "on");
  if (soundOn()) {
    N.audio = N.audio || new AudioContext(); // made in the click: browsers allow audio then
    N.audio.resume?.();
  }
  renderToggles();
}

/** Wires the toggles (in the top bar) and listens to the live events and the counts. */
export function setupNotify({ open, toast }) {
  N.open = open;
  N.toast = toast;
  const right = document.querySelector(".topbar-right");
  const mk = (id, text, onclick) => {
    const b = document.createElement("button");
    Object.assign(b, { type: "button", id, className: "btn btn-ghost toggle", textContent: text });
    b.addEventListener("click", onclick);
    return b;
  };
  right.prepend(
    mk("notify-toggle", _("Notifications"), toggleNotifications),
    mk("sound-toggle", _("Sound"), toggleSound)
  );
  renderToggles();
  document.addEventListener("chatcentre:event", (e) => onEvent(e.detail));
  document.addEventListener("chatcentre:counts", (e) => setTitleCount((e.detail.mine_unread || 0) + (e.detail.queue || 0)));
}
