// One renderer per dashboard page. Each asks the JSON API for its figures with the page's
// filters and draws panels from the answers: headline numbers, a chart, and tables that
// export to CSV. Panels are the <section>s of the page's template, found by id.
import { api, cfg, chart, columnsFor, dataset, el, filters, fmt, label, table, withPanel } from "./core.js";

const q = new URLSearchParams(location.search);
const rowsOf = (body) => (Array.isArray(body) ? body : body.rows || body.steps || body.paths || []);

function change(now, before, points) {
  if (now === null || now === undefined || before === null || before === undefined) return { text: "no earlier figure", cls: "flat" };
  if (points) {
    const d = (Number(now) - Number(before)) * 100;
    // Points are for the bounce rate, where up is the bad direction.
    return { text: `${d > 0 ? "+" : ""}${d.toFixed(1)} pts vs previous period`, cls: d > 0 ? "down" : d < 0 ? "up" : "flat" };
  }
  if (Number(before) === 0) return { text: Number(now) ? "new vs previous period" : "no change", cls: Number(now) ? "up" : "flat" };
  const pct = ((Number(now) - Number(before)) / Number(before)) * 100;
  return { text: `${pct > 0 ? "+" : ""}${pct.toFixed(1)}% vs previous period`, cls: pct > 0 ? "up" : pct < 0 ? "down" : "flat" };
}

async function overview() {
  const [now, before] = [api("reports/overview", filters()), api("reports/overview", filters({ from: cfg.previous.from, to: cfg.previous.to }))];
  await withPanel("headline", async (panel) => {
    const cur = await now;
    let prev = null;
    try {
      prev = await before;
    } catch (e) {
      prev = null;
    }
    const cards = [
      ["visitors", "Visitors", fmt.int],
      ["sessions", "Sessions", fmt.int],
      ["pageviews", "Pageviews", fmt.int],
      ["bounce_rate", "Bounce rate", fmt.pct, true],
      ["avg_session_seconds", "Avg. session", fmt.seconds],
    ];
    panel.body.append(
      el("div", { class: "cards" }, cards.map(([key, title, f, points]) => {
        const c = prev && prev.visitors ? change(cur[key], prev[key], points) : { text: "no data in the previous period", cls: "flat" };
        return el("div", { class: "card", "data-metric": key },
          el("div", { class: "card-label", text: title }),
          el("div", { class: "card-value", "data-value": cur[key], text: f(cur[key]) }),
          el("div", { class: `card-change ${c.cls}`, text: c.text }));
      }))
    );
    panel.ready();
  });
  await withPanel("timeseries-chart", async (panel) => {
    const rows = (await now).timeseries || [];
    if (!rows.some((r) => r.visitors || r.pageviews)) return panel.empty();
    chart(panel, {
      type: "line",
      data: { labels: rows.map((r) => r.date), datasets: [dataset("Visitors", rows.map((r) => r.visitors), 0, { tension: 0.25, pointRadius: 2 }), dataset("Pageviews", rows.map((r) => r.pageviews), 1, { tension: 0.25, pointRadius: 2 })] },
      options: { interaction: { mode: "index", intersect: false }, scales: { x: { ticks: { maxRotation: 0, autoSkipPadding: 12, callback: (v, i) => String(rows[i].date).slice(5) } }, y: { beginAtZero: true, ticks: { precision: 0 } } } },
    }, "lg");
    panel.ready();
  });
  await withPanel("timeseries-table", async (panel) => {
    const rows = ((await now).timeseries || []).slice().reverse();
    if (!rows.length) return panel.empty();
    table(panel, columnsFor(rows, ["date", "visitors", "pageviews"], { date: { format: "text" } }), rows, "daily");
    panel.ready();
  });
}

async function pages() {
  const body = api("reports/pages", filters());
  await withPanel("pages-chart", async (panel) => {
    const rows = rowsOf(await body).slice(0, 10);
    if (!rows.length) return panel.empty();
    chart(panel, { type: "bar", data: { labels: rows.map((r) => r.path), datasets: [dataset("Pageviews", rows.map((r) => r.pageviews), 0), dataset("Entries", rows.map((r) => r.entries), 1), dataset("Exits", rows.map((r) => r.exits), 2)] }, options: { indexAxis: "y" } }, "lg");
    panel.ready();
  });
  await withPanel("pages-table", async (panel) => {
    const rows = rowsOf(await body);
    if (!rows.length) return panel.empty();
    const link = (v) => el("a", { href: `/dashboard/paths?${new URLSearchParams(Object.assign(cfg.page_query, { start: v }))}`, title: "Where visitors go next from this page", text: v });
    table(panel, columnsFor(rows, ["path", "pageviews", "visitors", "entries", "exits"], { path: { render: link } }), rows, "pages");
    panel.ready();
  });
}

async function paths() {
  const start = q.get("start") || "/";
  const body = api("reports/paths", filters({ start, depth: q.get("depth") || "" }));
  suggest("path-options", "reports/pages", "path");
  const seq = (r) => {
    const p = r.path ?? r.sequence ?? r.paths ?? r.pages ?? r.steps;
    return Array.isArray(p) ? p.join(" → ") : String(p ?? "");
  };
  await withPanel("paths-chart", async (panel) => {
    const rows = rowsOf(await body).slice(0, 12);
    if (!rows.length) return panel.empty(`No visitor went on from ${start} in this range. Pick another page or a longer range.`);
    const measure = ["visitors", "sessions", "count"].find((k) => k in rows[0]) || "visitors";
    chart(panel, { type: "bar", data: { labels: rows.map(seq), datasets: [dataset(measure === "count" ? "Sessions" : label(measure), rows.map((r) => r[measure]), 0)] }, options: { indexAxis: "y", plugins: { legend: { display: false } } } }, "lg");
    panel.ready();
  });
  await withPanel("paths-table", async (panel) => {
    const rows = rowsOf(await body);
    if (!rows.length) return panel.empty(`No visitor went on from ${start} in this range.`);
    const cols = columnsFor(rows, ["path", "visitors", "sessions", "count", "share"], { path: { label: "Next pages" }, count: { label: "Sessions" }, share: { label: "Share of sessions" }, sequence: { hide: true }, exit: { hide: true } });
    table(panel, cols, rows, "paths");
    panel.ready();
  });
}

// Suggestions for a text field (the site's own pages or promotions), fetched the first time a
// field using the list gets focus: a page load does not pay for a report it may never need.
function suggest(listId, path, key) {
  let asked = false;
  document.addEventListener("focusin", (e) => {
    if (asked || !e.target.matches || !e.target.matches(`input[list="${listId}"]`)) return;
    asked = true;
    api(path, filters()).then((b) => fillDatalist(listId, rowsOf(b).map((r) => r[key]))).catch(() => {});
  });
}

function fillDatalist(id, values) {
  const list = document.getElementById(id);
  if (list) list.replaceChildren(...[...new Set(values)].map((v) => el("option", { value: v })));
}

async function promotions() {
  const body = api("reports/promotions", filters({ model: q.get("model") || "", lookback_days: q.get("lookback_days") || "" }));
  await withPanel("promotions-chart", async (panel) => {
    const rows = rowsOf(await body).slice(0, 12);
    if (!rows.length) return panel.empty("No promotion was seen in this range. Mark promotions with data-promo-id in your pages.");
    chart(panel, { type: "bar", data: { labels: rows.map((r) => r.promo_id), datasets: [dataset("Revenue (clicked within lookback)", rows.map((r) => r.revenue), 4), dataset(`Attributed revenue (${(await body).model || "model"})`, rows.map((r) => r.attributed_revenue), 0)] } }, "md");
    panel.ready();
  });
  await withPanel("promotions-table", async (panel) => {
    const rows = rowsOf(await body);
    if (!rows.length) return panel.empty("No promotion was seen in this range.");
    const link = (v) => el("a", { href: `/dashboard/lift?${new URLSearchParams(Object.assign(cfg.page_query, { promo: v }))}`, title: "Exposed against holdout", text: v });
    const preferred = ["promo_id", "impressions", "viewers", "clicks", "ctr", "conversions", "revenue", "attributed_conversions", "attributed_revenue"];
    table(panel, columnsFor(rows, preferred, { promo_id: { render: link }, attributed_conversions: { format: "num" } }), rows, "promotions");
    panel.ready();
  });
}

async function campaigns() {
  const body = api("reports/campaigns", filters());
  const tagged = (r) => r.utm_source || r.utm_medium || r.utm_campaign;
  await withPanel("campaigns-chart", async (panel) => {
    const rows = rowsOf(await body).filter(tagged).slice(0, 10);
    if (!rows.length) return panel.empty("No tagged campaign traffic in this range. Tag your links with utm_source, utm_medium and utm_campaign.");
    const name = (r) => [r.utm_source, r.utm_medium, r.utm_campaign].filter(Boolean).join(" / ") || "(none)";
    const measure = ["visitors", "sessions", "clicks", "conversions"].find((k) => k in rows[0]);
    const sets = [dataset(measure ? measure[0].toUpperCase() + measure.slice(1) : "Visitors", rows.map((r) => r[measure]), 0)];
    if ("conversions" in rows[0] && measure !== "conversions") sets.push(dataset("Conversions", rows.map((r) => r.conversions), 1));
    chart(panel, { type: "bar", data: { labels: rows.map(name), datasets: sets }, options: { indexAxis: "y" } }, "md");
    panel.ready();
  });
  await withPanel("campaigns-table", async (panel) => {
    const rows = rowsOf(await body);
    if (!rows.length) return panel.empty("No campaign traffic in this range.");
    const none = (v, r) => (v ? v : tagged(r) ? "–" : el("span", { class: "muted", text: "(none)" }));
    const cols = ["utm_source", "utm_medium", "utm_campaign", "visitors", "sessions", "pageviews", "conversions", "conversion_rate", "revenue", "aov", "revenue_per_session", "converting_sessions"];
    table(panel, columnsFor(rows, cols, { utm_source: { render: none }, utm_medium: { render: none }, utm_campaign: { render: none }, aov: { label: "Avg. order", format: "money" }, revenue_per_session: { label: "Revenue / session", format: "money" }, conversion_rate: { format: "pct" } }), rows, "campaigns");
    panel.ready();
  });
}

function verdictText(r) {
  const v = String(r.verdict || "");
  if (v === "not enough data") return ["Not enough data yet", "Keep the holdout running: each group needs more visitors and some conversions before the difference means anything.", "neutral"];
  if (v === "no significant difference") return ["No clear effect", "Exposed and holdout visitors convert at rates that could differ by chance alone.", "neutral"];
  if (v.startsWith("lifts")) return ["The promotion works", `Showing it ${v}: exposed visitors buy more than the holdout group.`, "good"];
  if (v.startsWith("lowers")) return ["The promotion hurts", `Showing it ${v}: exposed visitors buy less than the holdout group.`, "bad"];
  return [v || "–", "", "neutral"];
}

async function lift() {
  const only = q.get("promo");
  await withPanel("lift-panel", async (panel) => {
    let ids = only ? [only] : rowsOf(await api("reports/promotions", filters())).map((r) => r.promo_id);
    if (!ids.length) return panel.empty("No promotion was seen in this range. Split visitors with tracker('assign', promoId, callback) to measure lift.");
    ids = ids.slice(0, 24);
    const results = await Promise.all(ids.map((id) => api("reports/lift", filters({ promo: id })).then((r) => r, (e) => ({ promo_id: id, error: e }))));
    panel.body.append(el("div", { class: "lift-grid" }, results.map(liftCard)));
    panel.ready();
    if (results.every((r) => r.error)) panel.error(results[0].error);
  });
}

function liftCard(r) {
  if (r.error) return el("article", { class: "lift-card", "data-promo": r.promo_id }, el("h3", { text: r.promo_id }), el("p", { class: "error-text", text: `Could not load: ${r.error.message}` }));
  const [title, detail, tone] = verdictText(r);
  const interval = r.ci_low === null || r.ci_low === undefined ? "–" : `${(r.ci_low * 100).toFixed(1)} to ${(r.ci_high * 100).toFixed(1)} pts`;
  const row = (k, a, b) => el("tr", {}, el("th", { scope: "row", text: k }), el("td", { class: "num", text: a }), el("td", { class: "num", text: b }));
  return el("article", { class: `lift-card ${tone}`, "data-promo": r.promo_id },
    el("header", {}, el("h3", { text: r.promo_id }), el("span", { class: `verdict ${tone}`, "data-verdict": r.verdict, text: title })),
    el("p", { class: "verdict-detail", text: detail }),
    el("table", { class: "mini" },
      el("thead", {}, el("tr", {}, el("th", {}), el("th", { class: "num", text: "Exposed" }), el("th", { class: "num", text: "Holdout" }))),
      el("tbody", {},
        row("Visitors", fmt.int(r.exposed?.visitors), fmt.int(r.holdout?.visitors)),
        row("Converters", fmt.int(r.exposed?.converters), fmt.int(r.holdout?.converters)),
        row("Conversion rate", fmt.pct(r.exposed?.conversion_rate), fmt.pct(r.holdout?.conversion_rate)))),
    el("dl", { class: "facts" },
      el("dt", { text: "Lift" }), el("dd", { text: r.absolute_lift === null || r.absolute_lift === undefined ? "–" : `${(r.absolute_lift * 100).toFixed(1)} pts (${r.relative_lift === null || r.relative_lift === undefined ? "–" : fmt.pct(r.relative_lift)} relative)` }),
      el("dt", { text: "95% interval" }), el("dd", { "data-interval": true, text: interval }),
      el("dt", { text: "p-value" }), el("dd", { text: fmt.pvalue(r.p_value) })));
}

export const PAGES = { overview, pages, paths, promotions, campaigns, lift };
export { rowsOf, suggest };
