CREATE TABLE variable (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT,
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX uq_variable__name ON variable (name);
CREATE INDEX ix_variable__created ON variable (created);
CREATE INDEX ix_variable__updated ON variable (updated);
