-- A manual sanity ceiling per site for revenue its backend has not confirmed (issue #20,
-- `tracker site set SITE --revenue-ceiling N`, PATCH /api/admin/sites/{site}): 0 (the default,
-- and every existing site) keeps the automatic ceiling, `revenue_ceiling_factor` times the
-- site's median order (tracker/reports/revenue.py). Additive: old rows read 0.
ALTER TABLE ${sites} $ON_CLUSTER
    ADD COLUMN IF NOT EXISTS revenue_ceiling Decimal(18, 4) DEFAULT 0
;
-- In cluster mode the statement above changed sites_local; the Distributed table over it must
-- match. On a single node this is the same table, already changed: a no-op.
ALTER TABLE sites $ON_CLUSTER
    ADD COLUMN IF NOT EXISTS revenue_ceiling Decimal(18, 4) DEFAULT 0
