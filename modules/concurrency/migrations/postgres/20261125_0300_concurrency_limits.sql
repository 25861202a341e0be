CREATE TABLE concurrency_limit_v2 (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    name TEXT NOT NULL,
    "limit" INTEGER NOT NULL,
    active_slots INTEGER NOT NULL DEFAULT 0,
    denied_slots INTEGER NOT NULL DEFAULT 0,
    slot_decay_per_second DOUBLE PRECISION NOT NULL DEFAULT 0,
    avg_slot_occupancy_seconds DOUBLE PRECISION NOT NULL DEFAULT 2.0
);
CREATE UNIQUE INDEX uq_concurrency_limit_v2__name ON concurrency_limit_v2 (name);
CREATE INDEX ix_concurrency_limit_v2__updated ON concurrency_limit_v2 (updated);

-- The slots each lease holds, written in the transaction that takes them:
-- releasing a lease deletes its row in the transaction that gives them back,
-- so slots are given back exactly once, and a row whose lease is missing
-- from lease storage (a crash before the lease was stored, or memory leases
-- lost in a restart) is repaired by the repossessor.
CREATE TABLE concurrency_lease_hold (
    lease_id UUID PRIMARY KEY,
    limit_ids JSONB NOT NULL DEFAULT '[]',
    slots INTEGER NOT NULL,
    created TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_concurrency_lease_hold__created ON concurrency_lease_hold (created);
