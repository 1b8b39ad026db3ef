/*! chatcentre web chat widget.
 * <script src="https://YOUR-HOST/widget.js" data-widget-key="KEY" async></script>
 * Optional: data-lang="ru" (else the visitor's browser language), data-title="Chat with us",
 * data-subtitle="...", data-color="#4f46e5". The texts come from the channel's widget
 * settings (settings.texts.<lang>) and the widget's catalogue (GET /widget/v1/KEY/config).
 * Everything lives in a Shadow DOM; the only global is window.ChatcentreWidget. */
(function () {
  "use strict";
  if (window.ChatcentreWidget) return;

  var script =
    document.currentScript || document.querySelector("script[data-widget-key][src*='widget.js']");
  if (!script) return;
  var KEY = script.getAttribute("data-widget-key");
  if (!KEY) {
    console.warn("chatcentre widget: data-widget-key is missing");
    return;
  }
  var BASE = new URL(script.src, location.href).origin;
  var WS_BASE = BASE.replace(/^http/, "ws");

  // ---------------------------------------------------------------- language
  // data-lang, else the browser's first language we have (ru-RU -> ru), else English. The
  // catalogue arrives with the config; until then (or without it) the texts are English.
  var LANGS = ["en", "ru"];
  function baseLang(tag) {
    return String(tag || "").toLowerCase().split(/[-_]/)[0];
  }
  function visitorLanguage() {
    var asked = baseLang(script.getAttribute("data-lang"));
    if (LANGS.indexOf(asked) >= 0) return asked;
    var tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (var i = 0; i < tags.length; i++) if (LANGS.indexOf(baseLang(tags[i])) >= 0) return baseLang(tags[i]);
    return "en";
  }
  var LANG = visitorLanguage();
  var catalog = { messages: {}, plural: { one: 0, other: 1 } };
  var texts = {}; // the channel's own texts in LANG (settings.texts)
  function N_(s) {
    return s;
  }
  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      return params && key in params ? String(params[key]) : whole;
    });
  }
  function _(msgid, params) {
    var t = catalog.messages[msgid];
    return fill(typeof t === "string" ? t : msgid, params);
  }
  function ngettext(one, many, n) {
    var forms = catalog.messages[one];
    var cat = new Intl.PluralRules(LANG).select(n);
    var text = Array.isArray(forms) ? forms[catalog.plural[cat] !== undefined ? catalog.plural[cat] : forms.length - 1] : cat === "one" ? one : many;
    return fill(text, { n: n });
  }
  // A text: the embed's data-* attribute, else the channel's, else the translated default.
  var DEFAULTS = {
    title: N_("Chat with us"),
    subtitle: N_("We usually reply within a few minutes"),
    greeting: N_("Hi! Ask us anything: we are here to help."),
    placeholder: N_("Write a message…"),
    offline: N_("Offline: your messages go out when the connection is back"),
  };
  function text(key) {
    var attr = key === "title" || key === "subtitle" ? script.getAttribute("data-" + key) : null;
    return attr || texts[key] || _(DEFAULTS[key]);
  }
  var COLOR = /^#[0-9a-fA-F]{3,8}$/.test(script.getAttribute("data-color") || "")
    ? script.getAttribute("data-color")
    : "#4f46e5";
  var STORE = "chatcentre:" + KEY + ":";

  // ---------------------------------------------------------------- storage
  function load(name, fallback) {
    try {
      var v = localStorage.getItem(STORE + name);
      return v === null ? fallback : JSON.parse(v);
    } catch (e) {
      return fallback;
    }
  }
  function store(name, value) {
    try {
      if (value === null) localStorage.removeItem(STORE + name);
      else localStorage.setItem(STORE + name, JSON.stringify(value));
    } catch (e) {
      /* private mode: the session lasts for this page only */
    }
  }

  var state = {
    token: load("visitor_token", null),
    open: load("open", false),
    lastId: 0,
    messages: [], // {id?, cid?, direction, text, created_at, status?}
    pending: load("pending", []), // {cid, text, created_at}: re-sent after a reload
    unread: 0,
    ws: null,
    attempt: 0,
    timer: null,
    sessionPromise: null,
  };

  function randomId() {
    var b = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(b);
    return "w-" + Array.prototype.map.call(b, function (x) {
      return ("0" + x.toString(16)).slice(-2);
    }).join("");
  }

  // ---------------------------------------------------------------- styles
  var CSS =
    ":host{all:initial}" +
    "*{box-sizing:border-box}" +
    ".root{--c:" + COLOR + ";position:fixed;right:20px;bottom:20px;z-index:2147483000;" +
    "font-family:Inter,'Segoe UI',system-ui,-apple-system,Roboto,Arial,sans-serif;font-size:14px;color:#1e2433;line-height:1.4}" +
    ".launcher{width:58px;height:58px;border-radius:50%;border:0;background:var(--c);color:#fff;cursor:pointer;" +
    "box-shadow:0 8px 24px rgba(30,36,51,.25);display:flex;align-items:center;justify-content:center;position:relative}" +
    ".launcher:hover{box-shadow:0 10px 28px rgba(30,36,51,.35)}" +
    ".launcher:focus-visible,.send:focus-visible,.close:focus-visible{outline:3px solid rgba(79,70,229,.45);outline-offset:2px}" +
    ".launcher-icon,.launcher svg{width:28px;height:28px;display:block}" +
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#ef4444;color:#fff;" +
    "font-size:11px;font-weight:700;display:flex;align-items:center;justify-content:center;border:2px solid #fff}" +
    ".panel{position:absolute;right:0;bottom:74px;width:370px;height:min(600px,calc(100vh - 110px));background:#fff;border-radius:16px;" +
    "box-shadow:0 16px 48px rgba(30,36,51,.22);display:flex;flex-direction:column;overflow:hidden}" +
    ".head{background:var(--c);color:#fff;padding:16px 16px 18px;display:flex;align-items:flex-start;gap:12px}" +
    ".head-text{flex:1;min-width:0}" +
    ".title{font-size:16px;font-weight:700;margin:0}" +
    ".subtitle{margin:2px 0 0;font-size:12px;opacity:.85}" +
    ".status{display:inline-block;width:8px;height:8px;border-radius:50%;background:#86efac;margin-right:6px;vertical-align:middle}" +
    ".status[data-state=off]{background:#fcd34d}" +
    ".close{border:0;background:rgba(255,255,255,.15);color:#fff;width:32px;height:32px;border-radius:8px;cursor:pointer;font-size:20px;line-height:1}" +
    ".close:hover{background:rgba(255,255,255,.28)}" +
    ".log{flex:1;overflow-y:auto;padding:16px;margin:0;list-style:none;display:flex;flex-direction:column;gap:8px;background:#f6f7fb}" +
    ".hello{align-self:center;text-align:center;color:#6b7386;font-size:13px;padding:8px 16px}" +
    ".m{max-width:80%;display:flex;flex-direction:column}" +
    ".m-in{align-self:flex-end;align-items:flex-end}" +
    ".m-out{align-self:flex-start}" +
    ".b{padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".m-in .b{background:var(--c);color:#fff;border-bottom-right-radius:4px}" +
    ".m-out .b{background:#fff;border-bottom-left-radius:4px;box-shadow:0 1px 2px rgba(16,24,40,.08)}" +
    ".t{font-size:11px;color:#8a91a3;margin-top:3px;padding:0 4px}" +
    ".m[data-status=failed] .t{color:#b91c1c}" +
    ".m[data-status=sending] .b{opacity:.7}" +
    "a.file{display:block;margin-top:4px;color:inherit;text-decoration:underline}" +
    "a.pic{display:block;margin-top:4px}a.pic img{display:block;max-width:220px;max-height:220px;border-radius:10px}" +
    ".clip{width:40px;height:40px;border:1px solid #e4e7ef;border-radius:10px;background:#fff;color:#5b6275;cursor:pointer;display:flex;align-items:center;justify-content:center;flex:none}" +
    ".clip svg{width:18px;height:18px}.clip:focus-visible{outline:3px solid rgba(79,70,229,.45);outline-offset:2px}" +
    ".typing{font-size:12px;color:#5b6275;padding:0 14px 6px;min-height:16px}" +
    ".retry{border:0;background:none;color:#b91c1c;text-decoration:underline;cursor:pointer;font:inherit;padding:0}" +
    ".form{display:flex;gap:8px;padding:10px;border-top:1px solid #e4e7ef;background:#fff;align-items:flex-end}" +
    ".input{flex:1;resize:none;border:1px solid #e4e7ef;border-radius:10px;padding:9px 11px;font:inherit;color:inherit;min-height:40px;max-height:120px;outline:none}" +
    ".input:focus{border-color:var(--c);box-shadow:0 0 0 3px rgba(79,70,229,.15)}" +
    ".send{width:40px;height:40px;border:0;border-radius:10px;background:var(--c);color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;flex:none}" +
    ".send svg{width:18px;height:18px}" +
    ".send:disabled{opacity:.5;cursor:default}" +
    ".brandline{text-align:center;font-size:11px;color:#9aa1b2;padding:0 0 8px;background:#fff}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    "[hidden]{display:none!important}" +
    "@media (max-width:480px){.root{right:14px;bottom:14px}" +
    ".root[data-open=true]{right:0;bottom:0;left:0;top:0}" +
    ".root[data-open=true] .launcher{display:none}" +
    ".panel{position:fixed;inset:0;width:100%;height:100%;border-radius:0}}";

  // ---------------------------------------------------------------- DOM
  var host = document.createElement("div");
  host.setAttribute("data-chatcentre-widget", "");
  var shadow = host.attachShadow({ mode: "open" });
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch (e) {
    var style = document.createElement("style");
    style.textContent = CSS;
    shadow.appendChild(style);
  }

  var ICON_CHAT =
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.6A8 8 0 1 1 21 12z"/></svg>';
  var ICON_DOWN =
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="m6 9 6 6 6-6"/></svg>';
  var ICON_CLIP =
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="m21.4 11.1-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5"/></svg>';
  var ICON_SEND =
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M22 2 11 13"/><path d="M22 2 15 22l-4-9-9-4z"/></svg>';

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var root = el("div", { class: "root", "data-open": "false", lang: LANG });
  var launcher = el("button", {
    class: "launcher",
    type: "button",
    "aria-label": _("Open chat"),
    "aria-expanded": "false",
    "aria-controls": "cc-panel",
  });
  var launcherIcon = el("span", { class: "launcher-icon" });
  launcherIcon.innerHTML = ICON_CHAT; // constants, never user data
  launcher.appendChild(launcherIcon);
  var badge = el("span", { class: "badge", "aria-hidden": "true", hidden: "" });
  launcher.appendChild(badge);

  var panel = el("div", {
    class: "panel",
    id: "cc-panel",
    role: "dialog",
    "aria-modal": "false",
    "aria-labelledby": "cc-title",
    hidden: "",
  });
  var head = el("div", { class: "head" });
  var headText = el("div", { class: "head-text" });
  var titleEl = el("p", { class: "title", id: "cc-title" }, text("title"));
  headText.appendChild(titleEl);
  var sub = el("p", { class: "subtitle" });
  var dot = el("span", { class: "status", "data-state": "off", "aria-hidden": "true" });
  var subText = el("span", { class: "subtitle-text" }, text("subtitle"));
  sub.appendChild(dot);
  sub.appendChild(subText);
  headText.appendChild(sub);
  var closeBtn = el("button", { class: "close", type: "button", "aria-label": _("Close chat") }, "×");
  head.appendChild(headText);
  head.appendChild(closeBtn);

  var log = el("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": _("Messages") });
  var hello = el("li", { class: "hello" }, text("greeting"));
  log.appendChild(hello);

  var form = el("form", { class: "form" });
  var label = el("label", { class: "sr", for: "cc-input" }, _("Your message"));
  var input = el("textarea", {
    class: "input",
    id: "cc-input",
    rows: "1",
    placeholder: text("placeholder"),
    maxlength: "4096",
  });
  var send = el("button", { class: "send", type: "submit", "aria-label": _("Send") });
  send.innerHTML = ICON_SEND;
  // The paperclip: a file goes up (POST .../attachments), then out as a message.
  var clip = el("button", { class: "clip", type: "button", "aria-label": _("Attach a file") });
  clip.innerHTML = ICON_CLIP;
  var picker = el("input", { type: "file", hidden: "", "aria-hidden": "true", tabindex: "-1" });
  form.appendChild(label);
  form.appendChild(clip);
  form.appendChild(picker);
  form.appendChild(input);
  form.appendChild(send);
  var typingEl = el("div", { class: "typing", "aria-live": "polite" });

  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(typingEl);
  panel.appendChild(form);
  var brandline = el("div", { class: "brandline" }, _("Powered by chatcentre"));
  panel.appendChild(brandline);
  root.appendChild(panel);
  root.appendChild(launcher);
  shadow.appendChild(root);

  // ---------------------------------------------------------------- rendering
  var timeFmt = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" });

  // The config's texts and catalogue, once they arrive: everything shown is set again.
  function applyTexts() {
    titleEl.textContent = text("title");
    hello.textContent = text("greeting");
    input.setAttribute("placeholder", text("placeholder"));
    label.textContent = _("Your message");
    log.setAttribute("aria-label", _("Messages"));
    closeBtn.setAttribute("aria-label", _("Close chat"));
    send.setAttribute("aria-label", _("Send"));
    clip.setAttribute("aria-label", _("Attach a file"));
    brandline.textContent = _("Powered by chatcentre");
    showConnection();
    render();
  }

  // The subtitle, or the offline text while the socket is down.
  function showConnection() {
    var on = dot.getAttribute("data-state") === "on";
    subText.textContent = on || !state.token ? text("subtitle") : text("offline");
  }

  function loadConfig() {
    return api("GET", "/config?lang=" + encodeURIComponent(LANG)).then(
      function (c) {
        LANG = c.lang;
        root.setAttribute("lang", LANG);
        timeFmt = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" });
        catalog = { messages: c.messages || {}, plural: c.plural || { one: 0, other: 1 } };
        texts = c.texts || {};
        if (c.max_upload_bytes) state.maxUpload = c.max_upload_bytes;
        applyTexts();
      },
      function () {
        /* an older server or offline: the English defaults stay */
      }
    );
  }

  function itemFor(m) {
    var li = el("li", { class: "m " + (m.direction === "inbound" ? "m-in" : "m-out") });
    if (m.id) li.setAttribute("data-id", String(m.id));
    if (m.status) li.setAttribute("data-status", m.status);
    var files = (m.attachments || []).filter(function (a) { return a && a.url; });
    if (m.text || !files.length) {
      li.appendChild(el("div", { class: "b" }, m.text || (m.attachments && m.attachments.length ? _("(attachment)") : "")));
    }
    files.forEach(function (a) {
      // A signed link that expires: it opens the file without the visitor's token.
      var href = new URL(a.url, BASE);
      if (href.protocol !== "https:" && href.protocol !== "http:") return;
      if (a.type === "image") {
        var pic = el("a", { class: "pic", href: href.href, target: "_blank", rel: "noopener noreferrer" });
        pic.appendChild(el("img", { src: href.href, alt: a.filename || _("image"), loading: "lazy" }));
        li.appendChild(pic);
        return;
      }
      li.appendChild(
        el("a", { class: "b file", href: href.href, target: "_blank", rel: "noopener noreferrer" },
          a.filename || _("file"))
      );
    });
    if (m.error) li.appendChild(el("div", { class: "t" }, m.error));
    var t = el("div", { class: "t" });
    if (m.status === "failed") {
      t.appendChild(document.createTextNode(_("Not sent.") + " "));
      var retry = el("button", { class: "retry", type: "button" }, _("Retry"));
      retry.addEventListener("click", function () {
        m.status = "sending";
        render();
        deliver(m);
      });
      t.appendChild(retry);
    } else {
      t.textContent =
        m.status === "sending" ? _("Sending…") : timeFmt.format(new Date(m.created_at || Date.now()));
    }
    li.appendChild(t);
    return li;
  }

  function render() {
    var items = [hello];
    state.messages.forEach(function (m) {
      items.push(itemFor(m));
    });
    log.replaceChildren.apply(log, items);
    log.scrollTop = log.scrollHeight;
    sendRead();
    badge.textContent = String(state.unread);
    if (state.unread && !state.open) badge.removeAttribute("hidden");
    else badge.setAttribute("hidden", "");
    launcher.setAttribute(
      "aria-label",
      state.unread && !state.open ? ngettext("Open chat ({n} new)", "Open chat ({n} new)", state.unread) : _("Open chat")
    );
  }

  // ---------------------------------------------------------------- signals
  // Typing (at most one signal per 2 s) and read receipts, over the socket; never stored.
  var lastTyping = 0;
  var typingTimer = null;
  function signal(frame) {
    if (!state.ws || state.ws.readyState !== 1) return false;
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  function sendTyping() {
    var now = Date.now();
    if (now - lastTyping < 2000) return;
    if (signal({ type: "typing" })) lastTyping = now;
  }
  function showTyping() {
    typingEl.textContent = _("Typing…");
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () {
      typingEl.textContent = "";
    }, 5000);
  }
  // Our operator's messages shown to the visitor (panel open, page visible): read.
  function sendRead() {
    if (!state.open || document.hidden) return;
    var newest = 0;
    state.messages.forEach(function (m) {
      if (m.direction === "outbound" && m.id > newest) newest = m.id;
    });
    if (newest > (state.readUpTo || 0) && state.ws && state.ws.readyState === 1) {
      state.readUpTo = newest;
      signal({ type: "read", message_id: newest });
    }
  }
  document.addEventListener("visibilitychange", sendRead);

  function sortKey(m) {
    return m.id || Number.MAX_SAFE_INTEGER;
  }

  function addServerMessage(m, fromLive) {
    if (m.id > state.lastId) state.lastId = m.id;
    for (var i = 0; i < state.messages.length; i++) {
      if (state.messages[i].id === m.id) return false; // de-duplicated by id
    }
    if (m.direction === "inbound") {
      // Our own message echoed back: attach its id to the pending bubble.
      for (var j = 0; j < state.messages.length; j++) {
        var p = state.messages[j];
        if (!p.id && p.cid && p.text === m.text) {
          p.id = m.id;
          p.created_at = m.created_at;
          if (m.attachments && m.attachments.length) p.attachments = m.attachments;
          p.status = null;
          dropPending(p.cid);
          render();
          return false;
        }
      }
    }
    state.messages.push({
      id: m.id,
      direction: m.direction,
      text: m.text,
      attachments: m.attachments,
      created_at: m.created_at,
    });
    state.messages.sort(function (a, b) {
      return sortKey(a) - sortKey(b);
    });
    if (fromLive && m.direction === "outbound" && (!state.open || document.hidden)) state.unread++;
    render();
    return true;
  }

  // ---------------------------------------------------------------- API
  function api(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    return fetch(BASE + "/widget/v1/" + encodeURIComponent(KEY) + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      mode: "cors",
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        if (!res.ok) {
          var err = new Error((data && data.error && data.error.message) || res.statusText);
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  function ensureSession() {
    if (state.token) return Promise.resolve(state.token);
    if (!state.sessionPromise) {
      state.sessionPromise = api("POST", "/sessions", {}).then(
        function (s) {
          state.token = s.visitor_token;
          store("visitor_token", state.token);
          state.sessionPromise = null;
          connect();
          return state.token;
        },
        function (e) {
          state.sessionPromise = null;
          throw e;
        }
      );
    }
    return state.sessionPromise;
  }

  function resetSession() {
    state.token = null;
    store("visitor_token", null);
    if (state.ws) {
      var ws = state.ws;
      state.ws = null;
      ws.close();
    }
  }

  function dropPending(cid) {
    state.pending = state.pending.filter(function (p) {
      return p.cid !== cid;
    });
    store("pending", state.pending);
  }

  // Sends one message; network errors, 429 and 5xx are retried with backoff and the same
  // client_message_id, so the server stores it once however often it arrives.
  function deliver(m, attempt) {
    attempt = attempt || 0;
    return ensureSession()
      .then(function () {
        if (m.file && !m.uploaded) {
          return upload(m.file).then(function (up) {
            m.uploaded = up;
            m.attachments = [up];
            return api("POST", "/messages", { attachment_ids: [up.id], client_message_id: m.cid });
          });
        }
        var ids = m.uploaded ? [m.uploaded.id] : [];
        return api("POST", "/messages", { text: m.text || "", attachment_ids: ids, client_message_id: m.cid });
      })
      .then(function (res) {
        dropPending(m.cid);
        m.status = null;
        var stored = res.message;
        var dup = false;
        for (var i = 0; i < state.messages.length; i++) {
          if (state.messages[i] !== m && state.messages[i].id === stored.id) dup = true;
        }
        if (dup) {
          state.messages.splice(state.messages.indexOf(m), 1);
        } else {
          m.id = stored.id;
          m.created_at = stored.created_at;
        }
        if (stored.id > state.lastId) state.lastId = stored.id;
        render();
      })
      .catch(function (e) {
        if (e && e.status === 401 && attempt < 2) {
          resetSession();
          return deliver(m, attempt + 1);
        }
        var transient = !e || !e.status || e.status === 429 || e.status >= 500;
        if (transient && attempt < 8) {
          var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
          return new Promise(function (r) {
            setTimeout(r, delay);
          }).then(function () {
            return deliver(m, attempt + 1);
          });
        }
        m.status = "failed";
        // A refused file (too big, a type not accepted): say why; retrying will not help.
        if (m.file && e && (e.status === 413 || e.status === 415 || e.status === 422)) {
          m.error = e.message;
          m.status = null;
          m.file = null;
        }
        render();
      });
  }

  function upload(file) {
    var body = new FormData();
    body.append("file", file, file.name);
    return fetch(BASE + "/widget/v1/" + encodeURIComponent(KEY) + "/attachments", {
      method: "POST",
      headers: { Authorization: "Bearer " + state.token },
      body: body,
      credentials: "omit",
      mode: "cors",
    }).then(function (res) {
      return res.json().then(
        function (data) {
          if (res.ok) return data;
          var err = new Error((data && data.error && data.error.message) || res.statusText);
          err.status = res.status;
          throw err;
        },
        function () {
          var err = new Error(res.statusText);
          err.status = res.status;
          throw err;
        }
      );
    });
  }

  function sendFile(file) {
    if (state.maxUpload && file.size > state.maxUpload) {
      state.messages.push({
        direction: "inbound",
        text: file.name,
        error: _("The file is too large (at most {size} MB).", {
          size: Math.floor(state.maxUpload / 1048576) || 1,
        }),
        created_at: new Date().toISOString(),
      });
      render();
      return;
    }
    var m = {
      cid: randomId(),
      direction: "inbound",
      text: null,
      file: file,
      attachments: [{ filename: file.name, url: null }],
      created_at: new Date().toISOString(),
      status: "sending",
    };
    state.messages.push(m);
    render();
    deliver(m);
  }

  function submit() {
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    autosize();
    var m = {
      cid: randomId(),
      direction: "inbound",
      text: text,
      created_at: new Date().toISOString(),
      status: "sending",
    };
    state.pending.push({ cid: m.cid, text: m.text, created_at: m.created_at });
    store("pending", state.pending);
    state.messages.push(m);
    render();
    deliver(m);
  }

  function loadHistory() {
    return api("GET", "/messages?limit=100").then(
      function (page) {
        (page.items || []).forEach(function (m) {
          addServerMessage(m, false);
        });
      },
      function (e) {
        if (e && e.status === 401) resetSession();
      }
    );
  }

  // ---------------------------------------------------------------- live
  // A single-use ticket (POST .../ws-ticket) right before every connect: the socket's URL
  // never holds the visitor token.
  function connect() {
    if (!state.token || state.ws || state.opening) return;
    clearTimeout(state.timer);
    state.opening = true;
    api("POST", "/ws-ticket").then(
      function (data) {
        state.opening = false;
        openSocket(data.ticket);
      },
      function (e) {
        state.opening = false;
        if (e && e.status === 401) {
          resetSession(); // the session ended: a new one starts with the next message
          return;
        }
        if (e && e.status === 403) return; // this site may not use the widget
        retryLater();
      }
    );
  }

  function retryLater() {
    var delay = Math.min(30000, 500 * Math.pow(2, state.attempt)) * (0.5 + Math.random() / 2);
    state.attempt++;
    state.timer = setTimeout(connect, delay);
  }

  function openSocket(ticket) {
    if (!state.token || state.ws) return;
    var url =
      WS_BASE +
      "/widget/v1/" +
      encodeURIComponent(KEY) +
      "/ws?ticket=" +
      encodeURIComponent(ticket) +
      "&after=" +
      state.lastId;
    var ws = new WebSocket(url);
    state.ws = ws;
    var pinger = null;
    ws.onopen = function () {
      pinger = setInterval(function () {
        if (ws.readyState === 1) ws.send("ping");
      }, 25000);
    };
    ws.onmessage = function (e) {
      var frame;
      try {
        frame = JSON.parse(e.data);
      } catch (x) {
        return;
      }
      // A busy server sends what piled up as one {"type": "batch"} frame, in order.
      var events = frame.type === "batch" ? frame.events : [frame];
      for (var i = 0; i < events.length; i++) {
        var ev = events[i];
        if (ev.type === "ready") {
          state.attempt = 0;
          dot.setAttribute("data-state", "on");
          showConnection();
          sendRead();
        } else if (ev.type === "typing") {
          showTyping();
        } else if (ev.type === "message.created" && ev.data) {
          if (ev.data.direction === "outbound") typingEl.textContent = "";
          addServerMessage(ev.data, !ev.replay);
        }
      }
    };
    ws.onclose = function (e) {
      clearInterval(pinger);
      dot.setAttribute("data-state", "off");
      showConnection();
      if (state.ws !== ws) return;
      state.ws = null;
      if (e.code === 4403) return; // this site may not use the widget
      // Also on 4401 (the session ended, or the ticket was refused): the next ticket
      // request tells, and a 401 there starts a new session.
      retryLater();
    };
  }

  window.addEventListener("online", function () {
    state.attempt = 0;
    connect();
  });

  // ---------------------------------------------------------------- behaviour
  function setOpen(open, focus) {
    state.open = open;
    store("open", open);
    root.setAttribute("data-open", String(open));
    launcher.setAttribute("aria-expanded", String(open));
    launcherIcon.innerHTML = open ? ICON_DOWN : ICON_CHAT;
    if (open) {
      panel.removeAttribute("hidden");
      state.unread = 0;
      render();
      if (focus !== false) input.focus();
    } else {
      panel.setAttribute("hidden", "");
      render();
      if (focus !== false) launcher.focus();
    }
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(120, input.scrollHeight + 2) + "px";
  }

  launcher.addEventListener("click", function () {
    setOpen(!state.open);
  });
  closeBtn.addEventListener("click", function () {
    setOpen(false);
  });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") setOpen(false);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", function () {
    autosize();
    if (input.value) sendTyping();
  });
  clip.addEventListener("click", function () {
    picker.click();
  });
  picker.addEventListener("change", function () {
    var chosen = picker.files && picker.files[0];
    picker.value = "";
    if (chosen) sendFile(chosen);
  });

  function start() {
    document.body.appendChild(host);
    loadConfig();
    setOpen(!!state.open, false);
    // Messages typed before a reload that never reached the server go out again (same id).
    state.pending.forEach(function (p) {
      var m = { cid: p.cid, direction: "inbound", text: p.text, created_at: p.created_at, status: "sending" };
      state.messages.push(m);
    });
    var ready = state.token ? loadHistory() : Promise.resolve();
    ready.then(function () {
      connect();
      state.messages.forEach(function (m) {
        if (m.status === "sending") deliver(m);
      });
    });
  }

  window.ChatcentreWidget = {
    open: function () {
      setOpen(true);
    },
    close: function () {
      setOpen(false);
    },
    version: "1",
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
