// The dashboard's small toolkit: API calls with the session cookie, number formats, panels with
// loading / empty / error states, tables with CSV export, and Chart.js charts. Every figure on
// a page comes from the JSON API; nothing here computes a report.

export const cfg = JSON.parse(document.getElementById("page-config").textContent);
// No time zone chosen: the browser's own, so "today" and the daily series are the viewer's days.
export const browserTz = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (e) {
    return "UTC";
  }
})();
if (cfg.params && !cfg.params.tz) cfg.params.tz = browserTz;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A query string from an object; an array value is a repeated parameter (filter=a&filter=b).
export function query(params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined && x !== null && x !== "") qs.append(k, x);
  }
  return qs;
}

// GET /api/<path>?<params> with the session cookie; resolves to the JSON body. The same call
// made twice on one page (the traffic badge and the overview) is sent once, unless `fresh`
// (a page that refreshes itself).
const calls = new Map();
export function api(path, params, fresh) {
  const url = `/api/${path}?${query(params)}`;
  if (fresh) return get(url);
  if (!calls.has(url)) calls.set(url, get(url));
  return calls.get(url);
}

// A dashboard URL keeping the page's site, range, traffic, time zone and report filters.
export function pageUrl(path, extra) {
  return `${path}?${query(Object.assign({}, cfg.page_query, extra || {}))}`;
}

// This page with more report filters (`DIM:VALUE`s): what clicking a row of a breakdown does.
export function withFilters(added) {
  const have = [].concat(cfg.page_query.filter || []);
  return pageUrl(location.pathname, { filter: have.concat(added.filter((f) => !have.includes(f))) });
}

async function get(url) {
  let res;
  try {
    res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    throw new ApiError(0, "the tracker server could not be reached; check that it is running");
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, (body && body.error) || res.statusText || "request failed");
  return body;
}

// The page's filters as API parameters (site, from, to, traffic), plus overrides.
export function filters(extra) {
  return Object.assign({}, cfg.params, extra || {});
}

// ---- formats -------------------------------------------------------------------------------
const nf = new Intl.NumberFormat("en-US");
const nf2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const fmt = {
  int: (v) => (v === null || v === undefined ? "–" : nf.format(Math.round(Number(v)))),
  num: (v) => (v === null || v === undefined ? "–" : nf.format(Number(v))),
  money: (v) => (v === null || v === undefined ? "–" : nf2.format(Number(v))),
  pct: (v) => (v === null || v === undefined || Number.isNaN(Number(v)) ? "–" : (Number(v) * 100).toFixed(1) + "%"),
  pvalue: (v) => (v === null || v === undefined ? "–" : Number(v) < 0.001 ? "< 0.001" : Number(v).toFixed(3)),
  seconds: (v) => {
    if (v === null || v === undefined) return "–";
    const s = Math.round(Number(v));
    return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
  },
  text: (v) => (v === null || v === undefined || v === "" ? "–" : Array.isArray(v) ? v.join(" → ") : typeof v === "object" ? JSON.stringify(v) : String(v)),
  time: (v) => (v ? String(v).replace("T", " ").replace(/(\.\d+)?Z?$/, "") : "–"),
};

// A formatter guessed from a column name, for tables whose columns the API decides.
export function guessFormat(key, sample) {
  if (/(^|_)(rate|ctr|share|conversion|conversion_from_start|conversion_from_previous)$|_rate$|share$/.test(key)) return "pct";
  if (/revenue|amount/.test(key)) return "money";
  if (/^p_?value$/.test(key)) return "pvalue";
  if (/seconds$/.test(key)) return "seconds";
  if (/(^|_)(seen|at|ts|time)$/.test(key)) return "time";
  if (Array.isArray(sample)) return key === "reasons" ? "chips" : "text";
  if (typeof sample === "number") return Number.isInteger(sample) ? "int" : "num";
  return "text";
}

const LABELS = {
  path: "Page", pageviews: "Pageviews", visitors: "Visitors", entries: "Entries", exits: "Exits",
  promo_id: "Promotion", impressions: "Impressions", viewers: "Viewers", clicks: "Clicks", ctr: "Viewable CTR",
  conversions: "Conversions", revenue: "Revenue", attributed_conversions: "Attributed conv.", attributed_revenue: "Attributed revenue",
  utm_source: "Source", utm_medium: "Medium", utm_campaign: "Campaign", sessions: "Sessions", vid: "Visitor", score: "Score",
  reasons: "Reasons", events: "Events", first_seen: "First seen", last_seen: "Last seen", date: "Date",
  conversion_from_start: "From start", conversion_from_previous: "From previous step", step: "Step",
};
export const label = (key) => LABELS[key] || key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

// Columns: the preferred keys that the rows have, then their other plain keys.
export function columnsFor(rows, preferred, overrides) {
  const keys = [];
  for (const k of preferred || []) if (rows.some((r) => k in r)) keys.push(k);
  for (const k of Object.keys(overrides || {})) if (!keys.includes(k) && !overrides[k].hide && rows.some((r) => k in r)) keys.push(k);
  for (const r of rows.slice(0, 20)) for (const k of Object.keys(r)) if (!keys.includes(k) && (typeof r[k] !== "object" || r[k] === null)) keys.push(k);
  for (const r of rows.slice(0, 20)) for (const k of Object.keys(r)) if (!keys.includes(k) && Array.isArray(r[k]) && r[k].every((x) => typeof x !== "object")) keys.push(k);
  return keys.filter((key) => !((overrides || {})[key] || {}).hide).map((key) => Object.assign({ key, label: label(key), format: guessFormat(key, rows.find((r) => r[key] !== null && r[key] !== undefined)?.[key]) }, (overrides || {})[key] || {}));
}

// ---- elements --------------------------------------------------------------------------------
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

// A <section class="panel"> from the template: loading → ready | empty | error.
export class Panel {
  constructor(id) {
    this.node = document.getElementById(id);
    this.body = this.node.querySelector(".panel-body");
    this.state = this.node.querySelector(".panel-state");
    this.tools = this.node.querySelector(".panel-tools");
  }
  set(kind, message, extra) {
    this.node.dataset.state = kind;
    this.state.replaceChildren();
    if (message) this.state.append(el("p", { text: message }));
    if (extra) this.state.append(extra);
  }
  loading() {
    this.set("loading", "Loading…");
    this.body.replaceChildren();
    if (this.tools) this.tools.replaceChildren();
  }
  ready() {
    this.set("ready");
  }
  empty(message) {
    this.set("empty", message || cfg.empty_hint);
  }
  error(err) {
    if (err && err.status === 401) {
      this.set("error", "Your session has ended.", el("a", { href: `/dashboard/login?next=${encodeURIComponent(location.pathname + location.search)}`, text: "Sign in again" }));
    } else {
      const what = err && err.status ? `${err.message} (HTTP ${err.status})` : (err && err.message) || String(err);
      this.set("error", `Could not load this: ${what}`);
    }
  }
}

// Runs `load(panel)` with the loading / error states handled.
export async function withPanel(id, load) {
  const panel = new Panel(id);
  panel.loading();
  try {
    await load(panel);
  } catch (err) {
    panel.error(err);
    if (!(err instanceof ApiError)) console.error(err);
  }
  return panel;
}

// ---- tables and CSV --------------------------------------------------------------------------
function cell(col, row) {
  const v = row[col.key];
  if (col.render) return col.render(v, row);
  if (col.format === "chips") return el("span", { class: "chips" }, (v || []).map((x) => el("span", { class: "chip", text: x })));
  return (fmt[col.format] || fmt.text)(v);
}

// `rowFilters(row)`: the report filters a click on the row adds (a filter chip every page
// honours); the row's first cell becomes a link to them, and the whole row is clickable.
export function table(panel, columns, rows, csvName, rowFilters) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.format === "text" || c.format === "chips" || c.format === "time" ? "" : "num", text: c.label })));
  const body = rows.map((row) => {
    const added = rowFilters ? rowFilters(row) : null;
    const href = added && added.length ? withFilters(added) : null;
    const tr = el("tr", href ? { class: "filterable", "data-filter": added.join(" "), title: `Only visits with ${added.join(", ")}` } : {}, columns.map((c, i) => {
      const v = row[c.key];
      const content = i === 0 && href ? el("a", { href, class: "row-filter" }, cell(c, row)) : cell(c, row);
      return el("td", { class: c.nowrap || c.format === "time" ? "nowrap" : c.format === "text" || c.format === "chips" ? "" : "num", "data-key": c.key, "data-value": v === null || v === undefined || typeof v === "object" ? null : String(v) }, content);
    }));
    if (href) tr.addEventListener("click", (e) => { if (!e.target.closest("a")) location.assign(href); });
    return tr;
  });
  const t = el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, body));
  panel.body.append(el("div", { class: "table-wrap" }, t));
  if (panel.tools && csvName) {
    panel.tools.append(el("button", { type: "button", class: "btn small", "data-csv": csvName, onclick: () => download(`${csvName}-${cfg.params.site}-${cfg.params.from}-${cfg.params.to}.csv`, toCsv(columns, rows)) }, "Export CSV"));
  }
  return t;
}

// A spreadsheet must not run a cell as a formula: text starting with = + - @ (or tab / CR)
// gets a leading apostrophe. JSON numbers are written as numbers.
export function csvCell(v) {
  if (v === null || v === undefined) return "";
  let s = Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (typeof v !== "number" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.key)).join(",")];
  for (const r of rows) lines.push(columns.map((c) => csvCell(r[c.key])).join(","));
  return lines.join("\r\n") + "\r\n";
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---- charts (Chart.js, loaded as a static file before this script) -----------------------------
export const COLORS = ["#4f46e5", "#0ea5a4", "#f59e0b", "#e11d48", "#64748b", "#8b5cf6", "#10b981", "#f97316"];

export function chart(panel, config, height) {
  const box = el("div", { class: "chart-box", style: null });
  box.dataset.height = height || "md";
  const canvas = el("canvas", { role: "img", "aria-label": panel.node.querySelector("h2")?.textContent || "chart" });
  box.append(canvas);
  panel.body.append(box);
  const Chart = window.Chart;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#475569";
  Chart.defaults.borderColor = "#e2e8f0";
  const options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } }, config.options || {});
  return new Chart(canvas, Object.assign({}, config, { options }));
}

export function dataset(labelText, data, i, extra) {
  return Object.assign({ label: labelText, data, backgroundColor: COLORS[i % COLORS.length], borderColor: COLORS[i % COLORS.length] }, extra || {});
}
