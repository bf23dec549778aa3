/* The demo shop's own script (not part of the snippet): a cart kept in localStorage, the
 * checkout and purchase calls, and the "what this page sent" panel, which watches the
 * snippet's requests to /api/collect so a visitor can see exactly what left the page. */
(function () {
  'use strict';
  var CART = 'demo_cart';
  var sent = [];

  function note(events) {
    events.forEach(function (e) {
      var what = e.promo ? e.promo.id + (e.promo.variant ? ' (' + e.promo.variant + ')' : '')
        : e.order ? e.order.id + ' $' + e.order.revenue + (e.order.coupon ? ' ' + e.order.coupon : '')
        : e.name || new URL(e.url).pathname;
      sent.push(e.type + ' · ' + what);
    });
    render();
  }
  function watch(body) {
    try { note(JSON.parse(body).events || []); } catch (err) { /* not ours */ }
  }
  var realFetch = window.fetch;
  window.fetch = function (url, init) {
    if (String(url).indexOf('/api/collect') >= 0 && init && typeof init.body === 'string') watch(init.body);
    return realFetch.apply(this, arguments);
  };
  function render() {
    var log = document.getElementById('sent-log');
    if (!log || !sent.length) return;
    log.innerHTML = '';
    sent.forEach(function (line) {
      var li = document.createElement('li');
      li.textContent = line;
      log.appendChild(li);
    });
  }

  function cart() {
    try { return JSON.parse(localStorage.getItem(CART) || '{}'); } catch (err) { return {}; }
  }
  function saveCart(c) {
    localStorage.setItem(CART, JSON.stringify(c));
    count();
  }
  function count() {
    var el = document.getElementById('cart-count');
    var c = cart();
    if (el) el.textContent = Object.keys(c).reduce(function (n, k) { return n + c[k]; }, 0);
  }
  function catalog() {
    var el = document.getElementById('catalog');
    var bySku = {};
    (el ? JSON.parse(el.textContent) : []).forEach(function (p) { bySku[p.sku] = p; });
    return bySku;
  }
  function total(discount) {
    var c = cart();
    var items = catalog();
    var sum = Object.keys(c).reduce(function (s, sku) { return s + (items[sku] ? items[sku].price * c[sku] : 0); }, 0);
    return Math.round(sum * (1 - (discount || 0)) * 100) / 100;
  }
  function money(n) { return '$' + n.toFixed(2); }

  window.demo = {
    showVariant: function (id, variant) {
      var slot = document.getElementById(id);
      if (slot) slot.setAttribute('data-variant', variant);
    },
    renderCart: function () {
      var c = cart();
      var items = catalog();
      var body = document.querySelector('#lines tbody');
      Object.keys(c).forEach(function (sku) {
        if (!items[sku]) return;
        var tr = document.createElement('tr');
        [items[sku].name, '× ' + c[sku], money(items[sku].price * c[sku])].forEach(function (text) {
          var td = document.createElement('td');
          td.textContent = text;
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      document.getElementById('total').textContent = money(total());
      var empty = !Object.keys(c).length;
      document.getElementById('empty').hidden = !empty;
      document.getElementById('to-checkout').hidden = empty;
    },
    checkout: function () {
      document.getElementById('total').textContent = money(total());
      var form = document.getElementById('checkout');
      form.addEventListener('submit', function () {
        document.getElementById('order').value = 'ORD-' + Date.now().toString(36).toUpperCase();
        tracker('event', 'checkout', { value: total(), items: Object.keys(cart()).length });
      });
    },
    purchase: function () {
      var q = new URLSearchParams(location.search);
      var order = q.get('order');
      var coupon = (q.get('coupon') || '').trim().toUpperCase();
      var revenue = total(coupon === 'SUMMER20' ? 0.2 : 0);
      if (!order || !revenue || sessionStorage.getItem('bought:' + order)) return;
      tracker('purchase', { id: order, revenue: revenue, currency: 'USD', coupon: coupon || undefined });
      sessionStorage.setItem('bought:' + order, '1');
      saveCart({});
      document.getElementById('summary').textContent = 'Order ' + order + ': ' + money(revenue) + (coupon ? ' with ' + coupon : '') + '.';
    }
  };

  document.addEventListener('DOMContentLoaded', function () {
    count();
    render();
    // What a page's template asks for (data attributes, not inline scripts: the CSP allows none).
    document.querySelectorAll('[data-demo-assign]').forEach(function (el) {
      var slot = el.getAttribute('data-demo-slot');
      tracker('assign', el.getAttribute('data-demo-assign'), function (variant) { window.demo.showVariant(slot, variant); });
    });
    document.querySelectorAll('[data-demo-run]').forEach(function (el) {
      var run = window.demo[el.getAttribute('data-demo-run')];
      if (run) run();
    });
    // If the snippet is blocked, show the promotion rather than an empty hero.
    setTimeout(function () {
      var hero = document.getElementById('hero');
      if (hero && !hero.getAttribute('data-variant')) hero.setAttribute('data-variant', 'exposed');
    }, 2500);
    document.addEventListener('click', function (e) {
      var button = e.target.closest && e.target.closest('[data-add-to-cart]');
      if (button) {
        var sku = button.getAttribute('data-add-to-cart');
        var c = cart();
        c[sku] = (c[sku] || 0) + 1;
        saveCart(c);
        tracker('event', 'add_to_cart', { sku: sku, price: button.getAttribute('data-price'), quantity: 1 });
        document.getElementById('added').hidden = false;
      }
      if (e.target.id === 'optout') {
        tracker('optout');
        e.target.textContent = 'opted out: nothing more is sent';
      }
    });
  });
})();
