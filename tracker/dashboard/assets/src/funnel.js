// The funnel builder: steps picked from the site's own pages, event types and promotions, kept
// in the page URL (so a funnel can be bookmarked and shared), sent to /api/reports/funnel.
import { api, cfg, chart, columnsFor, dataset, el, filters, fmt, table, withPanel } from "./core.js";
import { rowsOf, suggest } from "./pages.js";

const TYPES = ["pageview", "promo_view", "promo_click", "add_to_cart", "checkout", "purchase", "custom"];
// Which event field a step of each type may be narrowed by (the funnel API's step keys).
const TARGET = { pageview: "path", add_to_cart: "path", checkout: "path", promo_view: "promo", promo_click: "promo", custom: "name" };
const DEFAULT_STEPS = [{ type: "pageview", path: "/" }, { type: "add_to_cart" }, { type: "checkout" }, { type: "purchase" }];
const WINDOWS = [[1800, "30 minutes"], [3600, "1 hour"], [86400, "1 day"], [7 * 86400, "7 days"], [30 * 86400, "30 days"]];

function readSteps() {
  try {
    const steps = JSON.parse(new URLSearchParams(location.search).get("steps") || "null");
    if (Array.isArray(steps) && steps.length >= 1 && steps.every((s) => s && TYPES.includes(s.type))) return steps;
  } catch (e) {
    /* a hand-edited URL: start from the default funnel */
  }
  return DEFAULT_STEPS.map((s) => Object.assign({}, s));
}

export const stepLabel = (s) => {
  const key = TARGET[s.type];
  return s.type.replace(/_/g, " ") + (key && s[key] ? ` ${s[key]}` : "");
};

export async function funnel() {
  let steps = readSteps();
  const windowSelect = document.getElementById("funnel-window");
  const list = document.getElementById("funnel-steps");
  const current = new URLSearchParams(location.search).get("window");
  windowSelect.replaceChildren(...WINDOWS.map(([s, t]) => el("option", { value: s, selected: String(s) === (current || "86400"), text: t })));

  suggest("path-options", "reports/pages", "path");
  suggest("promo-options", "reports/promotions", "promo_id");

  function draw() {
    list.replaceChildren(...steps.map((s, i) => {
      const key = TARGET[s.type];
      const type = el("select", { "aria-label": `Step ${i + 1} event type`, "data-step-type": i, onchange: (e) => { const t = e.target.value; steps[i] = { type: t }; draw(); } },
        TYPES.map((t) => el("option", { value: t, selected: t === s.type, text: t.replace(/_/g, " ") })));
      const target = key ? el("input", {
        type: "text", "aria-label": `Step ${i + 1} ${key}`, "data-step-target": i, value: s[key] || "",
        placeholder: key === "path" ? "any page, or /path" : key === "promo" ? "any promotion, or its id" : "event name",
        list: key === "path" ? "path-options" : key === "promo" ? "promo-options" : null,
        oninput: (e) => { if (e.target.value.trim()) steps[i][key] = e.target.value.trim(); else delete steps[i][key]; },
      }) : el("span", { class: "muted", text: "any" });
      const remove = el("button", { type: "button", class: "btn ghost small", "aria-label": `Remove step ${i + 1}`, disabled: steps.length <= 2, onclick: () => { steps.splice(i, 1); draw(); } }, "Remove");
      return el("li", { class: "step-row" }, el("span", { class: "step-no", text: String(i + 1) }), type, target, remove);
    }));
  }
  draw();
  document.getElementById("funnel-add").addEventListener("click", () => { if (steps.length < 10) { steps.push({ type: "pageview" }); draw(); } });
  // One Apply for the page: the funnel's steps and window travel with the filter bar's form,
  // so a changed date range and a changed step are applied together (and kept in the URL).
  const form = document.getElementById("filters");
  form.addEventListener("submit", () => {
    for (const [name, value] of [["steps", JSON.stringify(steps)], ["window", windowSelect.value]]) {
      let input = form.querySelector(`input[type=hidden][name=${name}]`);
      if (!input) form.append((input = el("input", { type: "hidden", name })));
      input.value = value;
    }
  });
  document.getElementById("funnel-run").addEventListener("click", () => form.requestSubmit());

  async function run() {
    const qs = new URLSearchParams(location.search);
    qs.set("steps", JSON.stringify(steps));
    qs.set("window", windowSelect.value);
    history.replaceState(null, "", `${location.pathname}?${qs}`);
    const body = api("reports/funnel", filters({ steps: JSON.stringify(steps), window: windowSelect.value }));
    let labels = steps.map((s, i) => `${i + 1}. ${stepLabel(s)}`);
    await withPanel("funnel-chart", async (panel) => {
      const rows = rowsOf(await body);
      labels = rows.map((r, i) => `${i + 1}. ${r.label || stepLabel(steps[i])}`);
      if (!rows.length || !rows[0].visitors) return panel.empty("No visitor reached the first step in this range. Try another first step or a longer range.");
      const dropped = rows.map((r, i) => (i === 0 ? 0 : rows[i - 1].visitors - r.visitors));
      chart(panel, {
        type: "bar",
        data: { labels, datasets: [dataset("Reached the step", rows.map((r) => r.visitors), 0, { stack: "s" }), dataset("Dropped off before it", dropped, 3, { stack: "s", backgroundColor: "rgba(225,29,72,0.25)" })] },
        options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }, plugins: { tooltip: { callbacks: { afterBody: (items) => { const r = rows[items[0].dataIndex]; return `${fmt.pct(r.conversion_from_start)} of step 1, ${fmt.pct(r.conversion_from_previous)} of the previous step`; } } } } },
      }, "md");
      panel.ready();
    });
    await withPanel("funnel-table", async (panel) => {
      const rows = rowsOf(await body).map((r, i, all) => Object.assign({ label: labels[i].replace(/^\d+\. /, "") }, r, { dropped: i === 0 ? 0 : all[i - 1].visitors - r.visitors }));
      if (!rows.length) return panel.empty();
      const cols = columnsFor(rows, ["step", "label", "visitors", "conversion_from_start", "conversion_from_previous", "dropped", "median_seconds_from_previous"], { label: { label: "Matches", format: "text" }, dropped: { label: "Dropped off", format: "int" }, median_seconds_from_previous: { label: "Median time from previous", format: "seconds" } });
      table(panel, cols, rows, "funnel");
      panel.ready();
    });
  }
  if (cfg.autorun !== false) await run();
}
