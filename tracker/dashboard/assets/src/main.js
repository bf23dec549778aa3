// Entry point: wires the filter bar (presets, custom dates, traffic toggle), shows how many
// visitors trusted traffic leaves out, then runs the page's renderer.
import { api, cfg, el, filters, fmt } from "./core.js";
import { funnel } from "./funnel.js";
import { PAGES } from "./pages.js";
import { TRUST_PAGES } from "./trust.js";

function filterBar() {
  const form = document.getElementById("filters");
  if (!form) return;
  const range = form.querySelector("[name=range]");
  const custom = form.querySelector(".custom-range");
  const sync = () => custom.toggleAttribute("hidden", range.value !== "custom");
  sync();
  range.addEventListener("change", () => {
    sync();
    if (range.value !== "custom") form.requestSubmit();
  });
  for (const input of form.querySelectorAll("[name=site], [name=traffic], [data-autosubmit]")) input.addEventListener("change", () => form.requestSubmit());
  // Dates left in hidden custom fields must not override a preset.
  form.addEventListener("submit", () => {
    if (range.value !== "custom") for (const d of custom.querySelectorAll("input")) d.disabled = true;
  });
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
const render = Object.assign({ funnel }, PAGES, TRUST_PAGES)[cfg.page];
// The page's own figures first; the badge's query runs after them.
const done = render && cfg.params.site && !cfg.no_events ? render() : Promise.resolve();
if (cfg.page === "overview") excludedBadge();
else done.finally(excludedBadge);
