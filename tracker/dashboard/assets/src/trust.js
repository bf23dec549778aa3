// Trust & safety pages: the least trusted visitors (with reason filters and a drill-down),
// suspicious promotions, leaked coupons and networks — all from /api/trust/*.
import { api, cfg, chart, columnsFor, dataset, el, filters, fmt, pageUrl, table, withPanel } from "./core.js";
import { rowsOf } from "./pages.js";

const q = new URLSearchParams(location.search);
const REASONS = cfg.reasons || ["bot_user_agent", "headless", "webdriver", "velocity", "click_without_view", "fast_click", "purchase_without_pageview", "unsigned_id", "cookie_churn_ip", "coupon_shared"];
const yesNo = (v) => (v === true ? "yes" : v === false ? "no" : "–");
const PAGE_SIZE = 100;

function pageLink(changes) {
  const qs = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) if (v === null) qs.delete(k); else qs.set(k, v);
  return `${location.pathname}?${qs}`;
}

function scoreBadge(v) {
  const n = Number(v);
  const tone = n < 30 ? "bad" : n < 70 ? "warn" : "good";
  return el("span", { class: `score ${tone}`, text: fmt.int(v) });
}

async function trust() {
  const offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
  const reason = q.get("reason") || "";
  const params = filters({ max_score: q.get("max_score") || "", limit: PAGE_SIZE, offset, reason });
  const body = api("trust/visitors", params);
  const select = document.getElementById("reason-filter");
  if (select && select.options.length <= 1) for (const r of REASONS) select.append(el("option", { value: r, selected: r === reason, text: r.replace(/_/g, " ") }));
  await withPanel("reasons-chart", async (panel) => {
    const b = await body;
    const counts = b.reason_counts || b.reasons || null;
    let pairs;
    if (counts && !Array.isArray(counts)) pairs = Object.entries(counts);
    else {
      const tally = {};
      for (const r of rowsOf(b)) for (const x of r.reasons || []) tally[x] = (tally[x] || 0) + 1;
      pairs = Object.entries(tally);
    }
    pairs.sort((a, b2) => b2[1] - a[1]);
    if (!pairs.length) return panel.empty("No visitor at or under this score in this range: nothing suspicious, or raise the score limit.");
    chart(panel, { type: "bar", data: { labels: pairs.map((p) => p[0].replace(/_/g, " ")), datasets: [dataset("Visitors", pairs.map((p) => p[1]), 3)] }, options: { indexAxis: "y", plugins: { legend: { display: false } } } }, "md");
    panel.ready();
  });
  await withPanel("visitors-table", async (panel) => {
    const b = await body;
    const rows = rowsOf(b);
    if (!rows.length) return panel.empty(reason ? `No visitor flagged ${reason} at or under this score in this range.` : "No visitor at or under this score in this range.");
    const vidLink = (v) => el("a", { href: pageUrl(`/dashboard/trust/visitors/${encodeURIComponent(v)}`), text: v });
    table(panel, columnsFor(rows, ["vid", "score", "reasons", "events", "first_seen", "last_seen"], { vid: { render: vidLink }, score: { render: scoreBadge, format: "int" }, reasons: { format: "chips" } }), rows, "visitors");
    const total = b.total ?? rows.length;
    const pager = el("nav", { class: "pager", "aria-label": "Pages of results" },
      el("span", { text: `${fmt.int(total ? offset + 1 : 0)}–${fmt.int(Math.min(offset + PAGE_SIZE, total))} of ${fmt.int(total)} visitors` }),
      offset > 0 ? el("a", { class: "btn small", href: pageLink({ offset: Math.max(0, offset - PAGE_SIZE) || null }), text: "Previous" }) : null,
      offset + PAGE_SIZE < total ? el("a", { class: "btn small", href: pageLink({ offset: offset + PAGE_SIZE }), text: "Next" }) : null);
    panel.body.append(pager);
    panel.ready();
  });
}

async function trustVisitor() {
  const body = api(`trust/visitors/${encodeURIComponent(cfg.vid)}`, filters());
  await withPanel("visitor-summary", async (panel) => {
    const b = await body;
    const reasons = b.reasons || (b.signals || []).map((s) => s.reason || s.code || s.name).filter(Boolean);
    panel.body.append(el("div", { class: "cards" },
      el("div", { class: "card" }, el("div", { class: "card-label", text: "Trust score" }), el("div", { class: "card-value", "data-value": b.score, text: fmt.int(b.score) })),
      el("div", { class: "card" }, el("div", { class: "card-label", text: "Events" }), el("div", { class: "card-value", text: fmt.int(b.events ?? (b.timeline || []).length) })),
      el("div", { class: "card wide" }, el("div", { class: "card-label", text: "Reasons" }), el("div", { class: "chips" }, reasons.length ? reasons.map((x) => el("span", { class: "chip", text: x })) : el("span", { class: "muted", text: "none: looks like a person" })))));
    // signals: {code: {fired, value, weight}} — every signal's measured value, fired or not.
    const signals = Object.entries(b.signals || {}).map(([code, v]) => Object.assign({ signal: code }, v, { evidence: b.evidence && b.evidence[code] ? Object.entries(b.evidence[code]).map(([k, x]) => `${k.replace(/_/g, " ")} ${x}`).join(", ") : "" }));
    signals.sort((x, y) => Number(y.fired) - Number(x.fired) || String(x.signal).localeCompare(y.signal));
    if (b.excluded !== undefined) panel.body.append(el("p", { class: b.excluded ? "error-text" : "muted", text: b.excluded ? `Excluded from trusted traffic (score ${b.score} is at or under the threshold ${b.threshold}).` : `Counted as trusted traffic (threshold ${b.threshold}).` }));
    if (signals.length) table(panel, columnsFor(signals, ["signal", "fired", "value", "weight", "evidence"], { fired: { render: (v) => el("span", { class: v ? "chip" : "muted", text: v ? "fired" : "no" }), format: "text" }, value: { format: "num" }, evidence: { format: "text" } }), signals, "signals");
    panel.ready();
  });
  await withPanel("visitor-timeline", async (panel) => {
    const b = await body;
    const rows = b.timeline || b.events_list || (Array.isArray(b.events) ? b.events : []);
    if (!rows.length) return panel.empty("No event of this visitor in this range.");
    const flags = Object.fromEntries(["signed", "forged", "bot", "headless", "origin", "webdriver"].map((k) => [k, { render: yesNo, format: "text" }]));
    table(panel, columnsFor(rows, ["ts", "type", "path", "promo_id", "promo_variant", "order_id", "revenue", "coupon", "ua_browser", "ip_prefix", "signed", "bot", "headless", "webdriver"], Object.assign(flags, { client_ts: { hide: true }, ua_device: { hide: true }, promo_variant: { label: "Variant" }, path: { nowrap: true }, revenue: { format: "money", render: (v, r) => (r.type === "purchase" ? fmt.money(v) : "–") } })), rows, "timeline");
    if (b.timeline_truncated) panel.body.append(el("p", { class: "muted", text: "Only the first events are shown; narrow the date range to see the rest." }));
    panel.ready();
  });
}

function listPage(endpoint, id, preferred, measure, emptyText, overrides) {
  return async () => {
    const body = api(`trust/${endpoint}`, filters());
    await withPanel(`${id}-chart`, async (panel) => {
      const rows = rowsOf(await body).slice(0, 12);
      if (!rows.length) return panel.empty(emptyText);
      const m = measure.find((k) => k in rows[0]);
      const name = preferred.find((k) => k in rows[0]);
      chart(panel, { type: "bar", data: { labels: rows.map((r) => String(r[name])), datasets: [dataset(m.replace(/_/g, " "), rows.map((r) => r[m]), 3)] }, options: { indexAxis: "y", plugins: { legend: { display: false } } } }, "md");
      panel.ready();
    });
    await withPanel(`${id}-table`, async (panel) => {
      const rows = rowsOf(await body);
      if (!rows.length) return panel.empty(emptyText);
      table(panel, columnsFor(rows, [...preferred, ...measure], overrides), rows, id);
      panel.ready();
    });
  };
}

export const TRUST_PAGES = {
  trust,
  trust_visitor: trustVisitor,
  trust_promotions: listPage("promotions", "trust-promotions", ["promo_id"], ["suspicious_clicks", "suspicious_share", "clicks", "clicks_without_view", "fast_clicks", "clicks_by_excluded", "top_prefixes"], "No promotion was clicked in this range.",
    { suspicious_clicks: { label: "Suspicious" }, suspicious_share: { label: "Share" }, clicks_without_view: { label: "No view" }, fast_clicks: { label: "Too fast" }, clicks_by_excluded: { label: "By excluded" },
      top_prefixes: { label: "Top networks", format: "chips", render: (v) => el("span", { class: "chips" }, (v || []).map((p) => el("span", { class: "chip", text: `${p.ip_prefix} · ${p.suspicious_clicks}` }))) } }),
  trust_coupons: listPage("coupons", "trust-coupons", ["coupon"], ["visitors", "ip_prefixes", "redemptions", "revenue", "unusual", "public"], "No coupon looks leaked in this range.",
    { ip_prefixes: { label: "Networks" }, unusual: { render: yesNo, format: "text", label: "Unusual" }, public: { render: yesNo, format: "text" } }),
  // Ranked by excluded visitors (the API's order), so the chart shows that measure.
  trust_networks: listPage("networks", "trust-networks", ["ip_prefix"], ["excluded_visitors", "visitors", "events", "automated_events", "max_fresh_ids", "reasons"], "No network stands out in this range.",
    { ip_prefix: { label: "Network" }, max_fresh_ids: { label: "Fresh ids (max)" }, reasons: { format: "chips", render: (v) => el("span", { class: "chips" }, Object.entries(v || {}).map(([k, n]) => el("span", { class: "chip", text: `${k} ${n}` }))) } }),
};
