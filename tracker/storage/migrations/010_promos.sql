-- The promotions registry: holdout share, linked coupons, schedule. Written by the admin API
-- (`tracker promo set`), read by /api/assign and the promotion reports.
CREATE TABLE IF NOT EXISTS ${promos} $ON_CLUSTER
(
    site         String,
    promo_id     String,
    name         String,
    holdout_pct  Float64 COMMENT 'share of visitors held out, 0-100',
    coupons      Array(String) COMMENT 'coupon codes (upper case) linked to this promotion',
    starts_at    Nullable(DateTime64(3, 'UTC')),
    ends_at      Nullable(DateTime64(3, 'UTC')),
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    deleted      UInt8 DEFAULT 0
)
ENGINE = $REPLACING(updated_at)
ORDER BY (site, promo_id)
;
-- distributed: promos cityHash64(site)
