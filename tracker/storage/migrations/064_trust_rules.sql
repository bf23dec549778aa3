-- Trust rules that hold on unseen traffic (issue #14): day partials gain what the new signals
-- need. Additive: old rows read the defaults, and PARTIALS_VERSION 4 makes every materialised
-- day stale, so the job recomputes them with these columns filled.
--   pageviews, scripted_pageviews  scripted_pageviews: pageviews only from HTTP libraries
--   max_clicks_10s                 click_burst: promo clicks in the busiest sliding 10 s
--   pageviews_before_buy           coupon_shared: pageviews at or before the day's first purchase (all if none)
--   first_buy_ms                   coupon_shared: the day's first purchase (epoch ms, 0 = none)
--   promos_seen                    coupon_shared: promotions viewed or clicked (at most 16)
ALTER TABLE ${visitor_signals} $ON_CLUSTER
    ADD COLUMN IF NOT EXISTS pageviews UInt32,
    ADD COLUMN IF NOT EXISTS scripted_pageviews UInt32,
    ADD COLUMN IF NOT EXISTS max_clicks_10s UInt32,
    ADD COLUMN IF NOT EXISTS pageviews_before_buy UInt32,
    ADD COLUMN IF NOT EXISTS first_buy_ms Int64,
    ADD COLUMN IF NOT EXISTS promos_seen Array(String)
;
-- In cluster mode the statement above changed visitor_signals_local; the Distributed table over
-- it must match. On a single node this is the same table, already changed: a no-op.
ALTER TABLE visitor_signals $ON_CLUSTER
    ADD COLUMN IF NOT EXISTS pageviews UInt32,
    ADD COLUMN IF NOT EXISTS scripted_pageviews UInt32,
    ADD COLUMN IF NOT EXISTS max_clicks_10s UInt32,
    ADD COLUMN IF NOT EXISTS pageviews_before_buy UInt32,
    ADD COLUMN IF NOT EXISTS first_buy_ms Int64,
    ADD COLUMN IF NOT EXISTS promos_seen Array(String)
