// One renderer per dashboard page. Each asks the JSON API for its figures with the page's
// filters and draws panels from the answers: headline numbers, a chart, and tables that
// export to CSV. Panels are the <section>s of the page's template, found by id.
import { api, cfg, chart, columnsFor, dataset, el, filters, fmt, label, pageUrl, table, withPanel } from "./core.js";

const q = new URLSearchParams(location.search);
const rowsOf = (body) => (Array.isArray(body) ? body : body.rows || body.steps || body.paths || []);

// A previous period this small against the current one (a site that just started) makes any
// percentage meaningless (+68600 %): such figures are called "new" instead.
const TINY_SHARE = 0.1;
const TINY_VISITORS = 10;
export function tinyPrevious(cur, prev) {
  return !prev || !prev.visitors || prev.visitors < TINY_VISITORS || prev.visitors < TINY_SHARE * (cur.visitors || 0);
}

export function change(now, before, points, pointsUp) {
  if (now === null || now === undefined || before === null || before === undefined) return { text: "no earlier figure", cls: "flat" };
  if (pointsUp) {
    const d = (Number(now) - Number(before)) * 100;
    return { text: `${d > 0 ? "+" : ""}${d.toFixed(1)} pts vs previous period`, cls: d > 0 ? "up" : d < 0 ? "down" : "flat" };
  }
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
      ["orders", "Orders", fmt.int],
      ["revenue", "Revenue", fmt.money],
      ["conversion_rate", "Conversion rate", fmt.pct, "pts"],
      ["aov", "Avg. order value", fmt.money],
    ];
    const tiny = tinyPrevious(cur, prev);
    panel.body.append(
      el("div", { class: "cards" }, cards.map(([key, title, f, points]) => {
        const c = !prev || !prev.visitors ? { text: "new: no data in the previous period", cls: "flat" }
          : tiny ? { text: `new: the previous period had only ${fmt.int(prev.visitors)} visitor${prev.visitors === 1 ? "" : "s"}`, cls: "flat" }
          : points === "pts" ? change(cur[key], prev[key], false, true) : change(cur[key], prev[key], points);
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
    // Revenue is money, not a count: bars on an axis of its own, on the right.
    chart(panel, {
      type: "line",
      data: { labels: rows.map((r) => r.date), datasets: [
        dataset("Visitors", rows.map((r) => r.visitors), 0, { tension: 0.25, pointRadius: 2, yAxisID: "y" }),
        dataset("Pageviews", rows.map((r) => r.pageviews), 1, { tension: 0.25, pointRadius: 2, yAxisID: "y" }),
        dataset("Revenue", rows.map((r) => r.revenue), 2, { type: "bar", yAxisID: "money", backgroundColor: "rgba(245,158,11,0.35)", order: 3 }),
      ] },
      options: { interaction: { mode: "index", intersect: false }, scales: { x: { ticks: { maxRotation: 0, autoSkipPadding: 12, callback: (v, i) => String(rows[i].date).slice(5) } }, y: { beginAtZero: true, ticks: { precision: 0 } }, money: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { callback: (v) => fmt.money(v) } } } },
    }, "lg");
    panel.ready();
  });
  await withPanel("timeseries-table", async (panel) => {
    const rows = ((await now).timeseries || []).slice().reverse();
    if (!rows.length) return panel.empty();
    table(panel, columnsFor(rows, ["date", "visitors", "pageviews", "orders", "revenue"], { date: { format: "text" } }), rows, "daily");
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
    const next = (v, r) => el("a", { href: pageUrl("/dashboard/paths", { start: r.path }), title: "Where visitors go next from this page", text: "next pages →" });
    const cols = columnsFor(rows, ["path", "pageviews", "visitors", "entries", "exits"]);
    cols.push({ key: "next", label: "", format: "text", render: next });
    table(panel, cols, rows, "pages", (r) => [`page:${r.path}`]);
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
    const link = (v) => el("a", { href: pageUrl("/dashboard/lift", { promo: v }), title: "Exposed against holdout", text: v });
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
    const rowFilters = (r) => [r.utm_source && `source:${r.utm_source}`, r.utm_medium && `utm_medium:${r.utm_medium}`, r.utm_campaign && `utm_campaign:${r.utm_campaign}`].filter(Boolean);
    table(panel, columnsFor(rows, cols, { utm_source: { render: none }, utm_medium: { render: none }, utm_campaign: { render: none }, aov: { label: "Avg. order", format: "money" }, revenue_per_session: { label: "Revenue / session", format: "money" }, conversion_rate: { format: "pct" } }), rows, "campaigns", rowFilters);
    panel.ready();
  });
}

async function sources() {
  const body = api("reports/sources", filters());
  await withPanel("sources-chart", async (panel) => {
    const rows = rowsOf(await body).slice(0, 10);
    if (!rows.length) return panel.empty();
    chart(panel, { type: "bar", data: { labels: rows.map((r) => r.source), datasets: [dataset("Visitors", rows.map((r) => r.visitors), 0), dataset("Orders", rows.map((r) => r.orders), 2)] }, options: { indexAxis: "y" } }, "md");
    panel.ready();
  });
  await withPanel("sources-table", async (panel) => {
    const rows = rowsOf(await body);
    if (!rows.length) return panel.empty();
    table(panel, columnsFor(rows, ["source", "visitors", "sessions", "pageviews", "bounce_rate", "orders", "revenue"], { source: { format: "text" } }), rows, "sources", (r) => [`source:${r.source}`]);
    panel.ready();
  });
}

async function devices() {
  const body = api("reports/devices", filters());
  for (const dim of ["device", "browser", "os"]) {
    await withPanel(`devices-${dim}`, async (panel) => {
      const rows = (await body)[dim] || [];
      if (!rows.length) return panel.empty();
      if (dim === "device") chart(panel, { type: "bar", data: { labels: rows.map((r) => r.value), datasets: [dataset("Visitors", rows.map((r) => r.visitors), 0), dataset("Sessions", rows.map((r) => r.sessions), 1)] }, options: { indexAxis: "y" } }, "sm");
      const named = { value: { label: { device: "Device", browser: "Browser", os: "OS" }[dim], format: "text" } };
      table(panel, columnsFor(rows, ["value", "visitors", "sessions", "bounce_rate", "orders", "revenue"], named), rows, `devices-${dim}`, (r) => (r.value === "(unknown)" ? [] : [`${dim}:${r.value}`]));
      panel.ready();
    });
  }
}

// The "Now" page: the live report, asked again every REFRESH_MS while the tab is visible.
const REFRESH_MS = 5000;
async function now() {
  let charted = null;
  const draw = async () => {
    // The live window ignores the range; the trusted rule looks at the visitors of these days.
    const day = (ms) => new Date(Date.now() + ms).toISOString().slice(0, 10);
    const body = api("reports/live", filters({ from: day(-86400000), to: day(86400000) }), true);
    const stamp = document.getElementById("live-updated");
    await withPanel("live-headline", async (panel) => {
      const b = await body;
      const cards = [["visitors", "Visitors", fmt.int], ["pageviews", "Pageviews", fmt.int], ["orders", "Orders", fmt.int], ["revenue", "Revenue", fmt.money]];
      panel.body.append(el("div", { class: "cards" }, cards.map(([k, t, f]) => el("div", { class: "card", "data-metric": k }, el("div", { class: "card-label", text: t }), el("div", { class: "card-value", "data-value": b[k], text: f(b[k]) })))));
      panel.body.append(el("p", { class: "muted", id: "live-updated", "data-as-of": b.as_of, text: `Updated ${new Date(b.as_of).toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s` }));
      panel.ready();
    });
    if (stamp) stamp.remove();
    await withPanel("live-chart", async (panel) => {
      const m = (await body).minutes || [];
      const hhmm = (v) => new Date(v).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      if (charted) charted.destroy();
      charted = chart(panel, { type: "bar", data: { labels: m.map((r) => hhmm(r.minute)), datasets: [dataset("Pageviews", m.map((r) => r.pageviews), 1), dataset("Visitors", m.map((r) => r.visitors), 0, { type: "line", tension: 0.25, pointRadius: 1 })] }, options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } }, "sm");
      panel.ready();
    });
    await withPanel("live-pages", async (panel) => {
      const rows = (await body).pages || [];
      if (!rows.length) return panel.empty("Nobody viewed a page in the last 30 minutes.");
      table(panel, columnsFor(rows, ["path", "visitors", "pageviews"]), rows, "live-pages", (r) => [`page:${r.path}`]);
      panel.ready();
    });
    await withPanel("live-minutes", async (panel) => {
      const local = (v) => new Date(v).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const rows = ((await body).minutes || []).filter((r) => r.visitors || r.pageviews || r.orders).reverse();
      if (!rows.length) return panel.empty("No events in the last 30 minutes.");
      table(panel, columnsFor(rows, ["minute", "visitors", "pageviews", "orders", "revenue"], { minute: { format: "text", render: local } }), rows, "live-minutes");
      panel.ready();
    });
  };
  await draw();
  const tick = async () => {
    if (document.visibilityState === "visible") await draw().catch(() => {});
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
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

export const PAGES = { overview, pages, paths, promotions, campaigns, lift, sources, devices, now };
export { rowsOf, suggest };
