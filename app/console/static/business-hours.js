// Business hours per team (time zone, weekly schedule with several intervals a day, holidays,
// whether response targets count business time) and the per-channel out-of-office and
// greeting texts in English and Russian. Members read; admins save (the API says 403 else).
import { startPage } from "./shell.js";
import { request, savedToken } from "./api.js";

const DAYS = [N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday")];
const $ = (id) => document.getElementById(id);
const CLOCK = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function showError(err) {
  $("error").textContent = err ? err.message || String(err) : "";
}

// ------------------------------------------------------------ the schedule

function intervalRow(day, opens = "09:00", closes = "18:00") {
  const label = _(DAYS[day - 1]);
  const from = el("input", { value: opens, className: "opens", maxLength: 5, size: 5 });
  from.setAttribute("aria-label", _("{day} opens", { day: label }));
  const to = el("input", { value: closes, className: "closes", maxLength: 5, size: 5 });
  to.setAttribute("aria-label", _("{day} closes", { day: label }));
  const remove = el("button", { type: "button", className: "btn btn-ghost", textContent: "×" });
  remove.setAttribute("aria-label", _("Remove this interval"));
  const row = el("span", { className: "hours-interval" }, from, "–", to, remove);
  remove.addEventListener("click", () => row.remove());
  return row;
}

function renderDays(schedule) {
  $("days").replaceChildren();
  for (let day = 1; day <= 7; day++) {
    const list = el("span", { className: "intervals" });
    schedule.filter((i) => i.weekday === day).forEach((i) => list.append(intervalRow(day, i.opens, i.closes)));
    const add = el("button", { type: "button", className: "btn", textContent: _("Add hours") });
    add.setAttribute("aria-label", _("Add hours on {day}", { day: _(DAYS[day - 1]) }));
    add.addEventListener("click", () => list.append(intervalRow(day)));
    $("days").append(el("div", { className: "hours-day" }, el("span", { className: "day-name", textContent: _(DAYS[day - 1]) }), list, add));
  }
}

function holidayRow(date = "", name = "") {
  const d = el("input", { type: "date", value: date, className: "holiday-date" });
  d.setAttribute("aria-label", _("Holiday date"));
  const n = el("input", { type: "text", value: name || "", className: "holiday-name", maxLength: 200, placeholder: _("Name (optional)") });
  n.setAttribute("aria-label", _("Holiday name"));
  const remove = el("button", { type: "button", className: "btn btn-ghost", textContent: "×" });
  remove.setAttribute("aria-label", _("Remove this holiday"));
  const li = el("li", {}, d, n, remove);
  remove.addEventListener("click", () => li.remove());
  return li;
}

function collectHours() {
  const schedule = [];
  [...$("days").children].forEach((dayRow, i) => {
    dayRow.querySelectorAll(".hours-interval").forEach((row) => {
      const opens = row.querySelector(".opens").value.trim();
      const closes = row.querySelector(".closes").value.trim();
      if (!CLOCK.test(opens) || !CLOCK.test(closes)) throw new Error(_("Times are HH:MM, from 00:00 to 24:00."));
      schedule.push({ weekday: i + 1, opens, closes });
    });
  });
  const holidays = [...$("holidays").querySelectorAll("li")]
    .map((li) => ({ date: li.querySelector(".holiday-date").value, name: li.querySelector(".holiday-name").value.trim() || null }))
    .filter((h) => h.date);
  return {
    enabled: $("enabled").checked,
    timezone: $("timezone").value.trim(),
    business_time_only: $("business-time").checked,
    schedule,
    holidays,
  };
}

function showHours(h) {
  $("enabled").checked = h.enabled;
  $("timezone").value = h.timezone;
  $("business-time").checked = h.business_time_only;
  $("open-now").textContent = h.open_now ? _("Open now") : _("Closed now");
  renderDays(h.schedule);
  $("holidays").replaceChildren(...h.holidays.map((x) => holidayRow(x.date, x.name)));
}

async function loadHours() {
  showError(null);
  $("hours-saved").textContent = "";
  if (!$("team").value) return;
  showHours(await request("GET", `/api/v1/teams/${$("team").value}/business-hours`));
}

// ------------------------------------------------------------ the replies

const TEXTS = { "ooo-en": ["out_of_office", "en"], "ooo-ru": ["out_of_office", "ru"], "greeting-en": ["greeting", "en"], "greeting-ru": ["greeting", "ru"] };

async function loadReplies() {
  showError(null);
  $("replies-saved").textContent = "";
  if (!$("channel").value) return;
  const r = await request("GET", `/api/v1/channels/${$("channel").value}/auto-replies`);
  for (const [id, [kind, lang]] of Object.entries(TEXTS)) $(id).value = r[kind][lang] || "";
}

function collectReplies() {
  const body = { out_of_office: {}, greeting: {} };
  for (const [id, [kind, lang]] of Object.entries(TEXTS)) body[kind][lang] = $(id).value;
  return body;
}

// ------------------------------------------------------------ start

function fillSelect(select, items) {
  select.replaceChildren(...items.map((x) => el("option", { value: String(x.id), textContent: x.name })));
}

async function start() {
  if (!savedToken()) { $("error").textContent = _("Sign in on the inbox page first."); return; }
  if (typeof Intl.supportedValuesOf === "function") {
    $("zones").replaceChildren(...Intl.supportedValuesOf("timeZone").map((z) => el("option", { value: z })));
  }
  $("add-holiday").addEventListener("click", () => $("holidays").append(holidayRow()));
  $("team").addEventListener("change", () => loadHours().catch(showError));
  $("channel").addEventListener("change", () => loadReplies().catch(showError));
  $("hours-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(null);
    try {
      showHours(await request("PUT", `/api/v1/teams/${$("team").value}/business-hours`, collectHours()));
      $("hours-saved").textContent = _("Schedule saved.");
    } catch (err) { showError(err); }
  });
  $("replies-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(null);
    try {
      await request("PUT", `/api/v1/channels/${$("channel").value}/auto-replies`, collectReplies());
      await loadReplies();
      $("replies-saved").textContent = _("Replies saved.");
    } catch (err) { showError(err); }
  });
  try {
    fillSelect($("team"), await request("GET", "/api/v1/teams"));
    fillSelect($("channel"), await request("GET", "/api/v1/channels"));
    await Promise.all([loadHours(), loadReplies()]);
  } catch (err) { showError(err); }
  document.body.dataset.ready = "true";
}

await startPage(start);
