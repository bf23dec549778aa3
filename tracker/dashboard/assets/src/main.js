// Entry point: wires the filter bar (presets, custom dates, traffic toggle), shows how many
// visitors trusted traffic leaves out, then runs the page's renderer.
import { api, browserTz, cfg, el, filters, fmt, Panel } from "./core.js";
import { funnel } from "./funnel.js";
import { PAGES } from "./pages.js";
import { TRUST_PAGES } from "./trust.js";

// The time-zone choice: "Your browser's" (the default, named after the zone it is), UTC, and
// every zone the browser knows.
function timeZones(select) {
  if (!select) return;
  const first = select.options[0];
  first.textContent = `Your browser's (${browserTz})`;
  const have = new Set([...select.options].map((o) => o.value));
  let zones = [];
  try {
    zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  } catch (e) {
    zones = [];
  }
  for (const z of zones) if (!have.has(z)) select.append(el("option", { value: z, text: z.replace(/_/g, " ") }));
}

// Dates are checked where they are typed: the form is not sent with a start after the end.
function dateChecks(form, custom) {
  const from = custom && custom.querySelector("[name=from]");
  const to = custom && custom.querySelector("[name=to]");
  const note = document.getElementById("error-dates");
  if (!from || !to) return () => true;
  const check = () => {
    let message = "";
    if (!from.value || !to.value) message = "Pick both a start and an end date.";
    else if (from.value > to.value) message = "The start date must not be after the end date.";
    for (const d of [from, to]) {
      d.setCustomValidity(message);
      d.toggleAttribute("aria-invalid", Boolean(message));
    }
    note.textContent = message;
    note.hidden = !message;
    return !message;
  };
  from.addEventListener("input", check);
  to.addEventListener("input", check);
  return check;
}

function filterBar() {
  const form = document.getElementById("filters");
  if (!form) return;
  timeZones(form.querySelector("[name=tz]"));
  const range = form.querySelector("[name=range]");
  const custom = form.querySelector(".custom-range");
  const datesOk = dateChecks(form, custom);
  const sync = () => custom && range && custom.toggleAttribute("hidden", range.value !== "custom");
  sync();
  if (range) range.addEventListener("change", () => {
    sync();
    if (range.value !== "custom") form.requestSubmit();
  });
  for (const input of form.querySelectorAll("[name=site], [name=traffic], [data-autosubmit]")) input.addEventListener("change", () => form.requestSubmit());
  form.addEventListener("submit", (e) => {
    // Dates left in hidden custom fields must not override a preset.
    if (range && custom && range.value !== "custom") for (const d of custom.querySelectorAll("input")) d.disabled = true;
    else if (range && !datesOk()) e.preventDefault();
    // The browser's zone is the default: the URL only names a zone somebody chose.
    const tz = form.querySelector("[name=tz]");
    if (tz && !tz.value) tz.disabled = true;
  });
}

function copyButtons() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      const status = document.getElementById("copy-status");
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = "Copied.";
      } catch (e) {
        // No clipboard permission (plain http, an old browser): select it for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
      button.dataset.copied = "1";
    });
  }
}

async function excludedBadge() {
  const badge = document.getElementById("excluded");
  if (!badge || !cfg.params.site) return;
  try {
    // The `excluded` report: how many visitors trusted traffic leaves out, by reason code.
    const o = await api("reports/excluded", filters({ traffic: "trusted" }));
    const n = o.excluded_visitors || 0;
    const why = Array.isArray(o.by_reason) ? o.by_reason.slice(0, 4).map((r) => `${r.reason.replace(/_/g, " ")} ${fmt.int(r.visitors)}`).join(", ") : "";
    badge.dataset.value = n;
    badge.title = "Trusted traffic leaves out visitors whose trust score is at or under the exclusion threshold: crawlers, headless or automated browsers, click fraud, purchases without browsing, shared coupons and similar signals.";
    // trust_as_of: trust is evaluated in the background; events after this time are not judged yet.
    const asOf = o.trust_as_of ? el("span", { class: "muted", "data-trust-as-of": o.trust_as_of, title: `Trust evaluated on every event up to ${o.trust_as_of}`, text: ` · trust as of ${o.trust_as_of.slice(11, 19)} UTC` }) : "";
    badge.replaceChildren(
      cfg.params.traffic === "all" ? `includes ${fmt.int(n)} visitor${n === 1 ? "" : "s"} flagged as bots or fraud` : `${fmt.int(n)} visitor${n === 1 ? "" : "s"} excluded as bots or fraud`,
      why ? ` (${why})` : "",
      n && cfg.trust_link ? el("a", { href: cfg.trust_link, text: " see why" }) : "",
      asOf
    );
  } catch (e) {
    badge.textContent = "";
  }
}

filterBar();
copyButtons();
const render = Object.assign({ funnel }, PAGES, TRUST_PAGES)[cfg.page];
// The page's own figures first; the badge's query runs after them. Filters that could not be
// read are marked beside their fields, and nothing is asked until they are fixed.
const done = render && cfg.params.site && !cfg.no_events && !cfg.invalid ? render() : Promise.resolve();
if (cfg.invalid) for (const node of document.querySelectorAll(".panel")) new Panel(node.id).empty("Fix the filter marked above to see these figures.");
if (cfg.page === "overview") excludedBadge();
else done.finally(excludedBadge);
