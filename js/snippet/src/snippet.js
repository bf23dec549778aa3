/*
 * tracker snippet — first-party analytics and promotion tracking (CONTRACT §7, docs/snippet.md).
 *
 *   <script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>
 *   <script defer src="https://t.shop.example/snippet.js" data-site="shop"></script>
 *
 * Hand-written ES2017 with no dependencies; `npm run build` minifies it into the file the Python
 * package ships (tracker/web/static/snippet.js). The budget is 2 KiB gzipped, so every feature
 * here earns its bytes. Why things are the way they are:
 * - text/plain JSON with fetch(keepalive, credentials): no CORS preflight, survives page unload,
 *   and carries the first-party `_tid` cookie the server sets (the visitor id is never ours).
 * - Events are batched for a second and flushed on pagehide / visibilitychange→hidden.
 * - A purchase is written to localStorage before it is sent and removed only when the server
 *   has answered for it; the next page load re-sends it with its original event id, which the
 *   server deduplicates, so a lost answer never loses or doubles an order.
 * - GPC, DNT (unless data-dnt="false") and tracker('optout') mean nothing is sent at all.
 */
((w, d, n) => {
  const script = d.currentScript || d.querySelector('script[data-site]');
  const T = w.tracker;
  if (!script || (T && T.loaded)) return;
  const attr = (k) => script.getAttribute('data-' + k);
  const site = attr('site');
  const api = (attr('api') || new URL(script.src, location.href).origin).replace(/\/$/, '');
  const LS = w.localStorage;
  const SS = w.sessionStorage;
  const OPT = '_tid_optout';
  const PENDING = '_tid_pending';
  // Storage may be missing or throw (privacy modes, quota): never let that break the page.
  const store = (s, k, v) => {
    try {
      return v === undefined ? s.getItem(k) : v === null ? s.removeItem(k) : s.setItem(k, v);
    } catch (e) {}
  };
  const dnt = attr('dnt') !== 'false' && (n.doNotTrack == '1' || w.doNotTrack == '1');
  let off = n.globalPrivacyControl === true || dnt || store(LS, OPT) == '1';

  const c = w.crypto;
  const uuid = () =>
    c.randomUUID
      ? c.randomUUID()
      : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (x) =>
          (x ^ (c.getRandomValues(new Uint8Array(1))[0] & (15 >> (x / 4)))).toString(16));

  // A client session id: lets trust signals tell tabs and sessions apart without a cookie.
  let sid = store(SS, '_tid_sid');
  if (!sid) store(SS, '_tid_sid', (sid = uuid()));
  const env = {
    webdriver: n.webdriver === true,
    screen: screen.width + 'x' + screen.height,
    lang: n.language,
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  const ev = (type, extra) =>
    Object.assign({ type, id: uuid(), url: location.href, ts: Date.now(), sid, env }, extra);

  // --- transport -------------------------------------------------------------------------
  const pending = () => {
    try {
      return JSON.parse(store(LS, PENDING)) || [];
    } catch (e) {
      return []; // absent or damaged: nothing to retry
    }
  };
  const keep = (list) => store(LS, PENDING, JSON.stringify(list));
  // `gate`: sends wait for an in-flight /api/assign, so a first-time visitor gets one cookie.
  let gate = Promise.resolve();
  let buf = [];
  let timer = 0;
  const send = (events) => {
    const url = api + '/api/collect';
    const body = JSON.stringify({ site, events });
    const ids = events.map((e) => e.id);
    gate
      .then(() => fetch(url, { method: 'POST', body, keepalive: true, credentials: 'include', headers: { 'Content-Type': 'text/plain' } }))
      .then((r) => {
        // Answered: forget sent purchases unless the server asked for a retry (429, 5xx).
        if (r.status < 500 && r.status != 429) keep(pending().filter((e) => !ids.includes(e.id)));
      })
      .catch(() => n.sendBeacon && n.sendBeacon(url, body));
  };
  const flush = () => {
    clearTimeout(timer);
    timer = 0;
    while (buf.length) send(buf.splice(0, 30));
  };
  const push = (e, now) => {
    if (off) return;
    buf.push(e);
    if (now) flush();
    else timer = timer || setTimeout(flush, 1000);
  };

  // --- pageviews (SPA navigation included) -----------------------------------------------
  let last = '';
  let seen; // promo elements already counted on this page
  let watched; // promo elements under observation
  // A pageview when the path or query changed: a new fragment alone (#reviews) is the same page.
  const page = () => {
    const url = location.href.split('#')[0];
    if (url == last) return;
    push(ev('pageview', { ref: last || d.referrer || undefined }));
    last = url;
    // A new page: every promo may count once more (re-observing reports current visibility).
    seen = new WeakSet();
    watched = new WeakSet();
    if (io) io.disconnect();
    scan();
  };
  const hook = history.pushState;
  history.pushState = function () {
    hook.apply(this, arguments);
    page();
  };
  w.addEventListener('popstate', page);
  w.addEventListener('pagehide', flush);
  d.addEventListener('visibilitychange', () => d.visibilityState == 'hidden' && flush());

  // --- promotions: viewable = at least half visible for one second, once per page ----------
  const vars = {}; // promo id -> "exposed" | "holdout" (0 while /api/assign is in flight)
  const promo = (el) => {
    const s = el.dataset;
    return { id: s.promoId, name: s.promoName, creative: s.promoCreative, slot: s.promoSlot, variant: vars[s.promoId] || undefined };
  };
  const timers = new Map();
  const fire = (el) => {
    if (vars[el.dataset.promoId] === 0) return timers.set(el, setTimeout(fire, 200, el));
    seen.add(el);
    push(ev('promo_view', { promo: promo(el) }));
  };
  const io = w.IntersectionObserver &&
    new IntersectionObserver((entries) => entries.forEach((x) => {
      const el = x.target;
      clearTimeout(timers.get(el));
      if (x.isIntersecting && x.intersectionRatio >= 0.5 && !seen.has(el)) timers.set(el, setTimeout(fire, 1000, el));
    }), { threshold: [0, 0.5, 1] });
  const scan = () =>
    io && d.querySelectorAll('[data-promo-id]').forEach((el) => watched.has(el) || (watched.add(el), io.observe(el)));
  let later = 0;
  new MutationObserver(() => {
    clearTimeout(later);
    later = setTimeout(scan, 100);
  }).observe(d.documentElement, { childList: true, subtree: true });
  d.addEventListener('click', (e) => {
    const el = e.target.closest && e.target.closest('[data-promo-id]');
    // A held-out visitor never saw the promotion, so a click in its slot is not a promo click.
    if (el && vars[el.dataset.promoId] != 'holdout') push(ev('promo_click', { promo: promo(el) }), 1);
  }, true);

  // --- the public API ----------------------------------------------------------------------
  const cmds = {
    // tracker('event', 'add_to_cart'|'checkout'|'custom', {name, promo, order, ...props})
    event(type, o) {
      const e = ev(type, { props: {} });
      for (const k in o) (k == 'name' || k == 'promo' || k == 'order' ? e : e.props)[k] = o[k];
      push(e);
    },
    purchase(o) {
      const e = ev('purchase', { order: { id: o.id, revenue: o.revenue, currency: o.currency, coupon: o.coupon } });
      if (off) return;
      keep(pending().concat(e));
      push(e, 1);
    },
    assign(id, cb) {
      const done = (v) => {
        vars[id] = v;
        try {
          if (cb) cb(v);
        } catch (e) {} // a failing page callback must not hold up the events behind `gate`
      };
      if (off) return done('exposed');
      vars[id] = 0;
      const asked = fetch(api + '/api/assign?site=' + encodeURIComponent(site) + '&promo=' + encodeURIComponent(id), { credentials: 'include' })
        .then((r) => r.json())
        .catch(() => 0)
        .then((j) => done(j && j.variant == 'holdout' ? 'holdout' : 'exposed'));
      gate = Promise.all([gate, asked]);
    },
    optout() {
      off = 1;
      buf = [];
      store(LS, OPT, '1');
      store(LS, PENDING, null);
      fetch(api + '/api/opt-out', { method: 'POST', credentials: 'include', keepalive: true });
    },
  };
  const run = (a) => {
    const f = cmds[a[0]];
    try {
      f && f.apply(0, [].slice.call(a, 1));
    } catch (e) {}
  };

  page();
  pending().forEach((e) => push(e)); // purchases the last page could not deliver
  ((T && T.q) || []).forEach(run);
  w.tracker = function () {
    run(arguments);
  };
  w.tracker.loaded = 1;
})(window, document, navigator);
