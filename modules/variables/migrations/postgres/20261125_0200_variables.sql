CREATE TABLE variable (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    value JSONB,
    tags JSONB NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX uq_variable__name ON variable (name);
CREATE INDEX ix_variable__created ON variable (created);
CREATE INDEX ix_variable__updated ON variable (updated);
