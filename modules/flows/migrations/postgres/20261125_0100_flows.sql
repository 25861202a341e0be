CREATE TABLE flow (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    tags JSONB NOT NULL DEFAULT '[]',
    labels JSONB
);
CREATE UNIQUE INDEX uq_flow__name ON flow (name);
CREATE INDEX ix_flow__created ON flow (created);
CREATE INDEX ix_flow__updated ON flow (updated);
