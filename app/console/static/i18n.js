/* The console's translations: window._, window.ngettext, window.N_ and window.i18n.
 * A classic (not module) script in <head>, so `_` exists before any module runs; modules
 * await `i18n.ready` (the catalogue) before they render. Catalogues are gettext .po files
 * (app/console/locales) served as JSON by /console/i18n/<domain>/<lang>.json.
 *
 *   _("Assigned to {name}", { name })              named placeholders
 *   ngettext("{n} unread", "{n} unread", n)         plural forms (Russian has three); {n} is n
 *   N_("Queued")                                    marks a string translated later with _()
 *
 * Call _() when rendering, not at module top level, so a late catalogue still applies. */
(function () {
  "use strict";
  var STORE = "chatcentre.lang";
  var SUPPORTED = ["en", "ru"];

  function tags() {
    return navigator.languages && navigator.languages.length
      ? navigator.languages
      : [navigator.language || "en"];
  }
  function base(tag) {
    return String(tag || "").toLowerCase().split(/[-_]/)[0];
  }
  // The browser's first supported language (ru-RU, ru, ... -> ru), else English.
  function browserLanguage() {
    var all = tags();
    for (var i = 0; i < all.length; i++) if (SUPPORTED.indexOf(base(all[i])) >= 0) return base(all[i]);
    return "en";
  }
  function saved() {
    try {
      var v = localStorage.getItem(STORE);
      return SUPPORTED.indexOf(v) >= 0 ? v : null;
    } catch (e) {
      return null;
    }
  }
  // The Intl locale: the browser's own tag for that language (en-GB keeps its dates), else it.
  function localeFor(lang) {
    var all = tags();
    for (var i = 0; i < all.length; i++) if (base(all[i]) === lang) return all[i];
    return lang;
  }

  var lang = saved() || browserLanguage();
  var locale = localeFor(lang);
  var catalog = { messages: {}, plural: { one: 0, other: 1 } };
  var rules = new Intl.PluralRules(locale);
  var numberFmt = new Intl.NumberFormat(locale);

  function fill(text, params) {
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      if (!(key in params)) return whole;
      var v = params[key];
      return typeof v === "number" ? numberFmt.format(v) : String(v);
    });
  }

  function gettext(msgid, params) {
    var t = catalog.messages[msgid];
    return fill(typeof t === "string" ? t : msgid, params);
  }

  function ngettext(one, many, n, params) {
    var forms = catalog.messages[one];
    var text;
    if (Array.isArray(forms)) {
      var i = catalog.plural[rules.select(n)];
      text = forms[i === undefined ? forms.length - 1 : i];
    } else {
      text = rules.select(n) === "one" ? one : many;
    }
    return fill(text, Object.assign({ n: n }, params || {}));
  }

  // ------------------------------------------------------------ the static page
  // <h1 data-i18n>Sign in</h1> and data-i18n-attrs="placeholder aria-label": the English
  // stays in the page (and in a WeakMap), so translating again never translates a translation.
  var originals = new WeakMap();
  function translatePage(root) {
    var els = (root || document).querySelectorAll("[data-i18n], [data-i18n-attrs]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var orig = originals.get(el);
      if (!orig) {
        orig = { attrs: {} };
        if (el.hasAttribute("data-i18n")) orig.text = el.textContent.replace(/\s+/g, " ").trim();
        (el.getAttribute("data-i18n-attrs") || "").split(/\s+/).forEach(function (name) {
          if (name && el.hasAttribute(name)) orig.attrs[name] = el.getAttribute(name);
        });
        originals.set(el, orig);
      }
      if (orig.text !== undefined) el.textContent = gettext(orig.text);
      for (var name in orig.attrs) el.setAttribute(name, gettext(orig.attrs[name]));
    }
  }

  function load(domain, wanted) {
    if (wanted === "en") return Promise.resolve({ messages: {}, plural: { one: 0, other: 1 } });
    return fetch("/console/i18n/" + domain + "/" + wanted + ".json")
      .then(function (r) {
        if (!r.ok) throw new Error("catalogue " + r.status);
        return r.json();
      })
      .catch(function (e) {
        console.warn("chatcentre: no " + wanted + " catalogue, showing English", e);
        return null;
      });
  }

  function domReady() {
    return new Promise(function (resolve) {
      if (document.readyState !== "loading") resolve();
      else document.addEventListener("DOMContentLoaded", resolve, { once: true });
    });
  }

  function apply(got) {
    if (got) catalog = got;
    else lang = "en"; // the catalogue failed: do not claim a language we cannot show
    locale = localeFor(lang);
    rules = new Intl.PluralRules(locale);
    numberFmt = new Intl.NumberFormat(locale);
    document.documentElement.lang = lang;
  }

  document.documentElement.lang = lang;
  var domain = (document.currentScript && document.currentScript.getAttribute("data-domain")) || "console";
  var ready = Promise.all([load(domain, lang), domReady()]).then(function (r) {
    apply(r[0]);
    translatePage();
    return lang;
  });

  // ------------------------------------------------------------ dates and numbers
  function date(v) {
    return v instanceof Date ? v : new Date(v);
  }
  var i18n = {
    ready: ready,
    SUPPORTED: SUPPORTED,
    get lang() {
      return lang;
    },
    get locale() {
      return locale;
    },
    saved: saved,
    browserLanguage: browserLanguage,
    translatePage: translatePage,
    // The operator's saved preference (null: follow the browser). True when the page's
    // language changes, so the caller reloads to render everything anew.
    use: function (pref) {
      var want = SUPPORTED.indexOf(pref) >= 0 ? pref : null;
      try {
        if (want) localStorage.setItem(STORE, want);
        else localStorage.removeItem(STORE);
      } catch (e) {
        /* private mode: the preference still applies after sign-in */
      }
      return (want || browserLanguage()) !== lang;
    },
    number: function (n, opts) {
      return new Intl.NumberFormat(locale, opts).format(n);
    },
    time: function (v) {
      return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }).format(date(v));
    },
    dateTime: function (v, opts) {
      return new Intl.DateTimeFormat(
        locale,
        opts || { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
      ).format(date(v));
    },
    date: function (v, opts) {
      return new Intl.DateTimeFormat(locale, opts || { dateStyle: "medium" }).format(date(v));
    },
    // -90 -> "1 minute ago" / "1 минуту назад"; 3600 -> "in 1 hour" / "через 1 час".
    relative: function (seconds, style) {
      var fmt = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: style || "long" });
      var abs = Math.abs(seconds);
      if (abs < 60) return fmt.format(Math.round(seconds), "second");
      if (abs < 3600) return fmt.format(Math.trunc(seconds / 60), "minute");
      if (abs < 86400) return fmt.format(Math.trunc(seconds / 3600), "hour");
      return fmt.format(Math.trunc(seconds / 86400), "day");
    },
  };

  window.i18n = i18n;
  window._ = gettext;
  window.ngettext = ngettext;
  window.N_ = function (s) {
    return s;
  };
})();
