-- The audit log says *what* an admin action did, not only which route it called: the token
-- created or revoked, the site registered, the promotion changed, how many rows an erasure
-- removed (with the ledger's salted visitor hash, never the visitor id). Empty for reads.
ALTER TABLE ${audit_log} $ON_CLUSTER ADD COLUMN IF NOT EXISTS detail String DEFAULT '' COMMENT 'what the action did; never a visitor id'
;
-- In cluster mode the statement above changed audit_log_local; the Distributed table over it
-- must match. On a single node this is the same table, already changed: a no-op.
ALTER TABLE audit_log $ON_CLUSTER ADD COLUMN IF NOT EXISTS detail String DEFAULT '' COMMENT 'what the action did; never a visitor id'
