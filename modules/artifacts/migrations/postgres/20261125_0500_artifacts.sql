CREATE TABLE artifact (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    key TEXT,
    task_run_id UUID,
    flow_run_id UUID,
    type TEXT,
    data JSONB,
    description TEXT,
    metadata_ JSONB
);
CREATE INDEX ix_artifact__key ON artifact (key);
CREATE INDEX ix_artifact__key_created_desc ON artifact (key, created DESC);
CREATE INDEX ix_artifact__task_run_id ON artifact (task_run_id);
CREATE INDEX ix_artifact__flow_run_id ON artifact (flow_run_id);
CREATE INDEX ix_artifact__updated ON artifact (updated);

CREATE TABLE artifact_collection (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    key TEXT NOT NULL,
    latest_id UUID NOT NULL,
    task_run_id UUID,
    flow_run_id UUID,
    type TEXT,
    data JSONB,
    description TEXT,
    metadata_ JSONB
);
CREATE UNIQUE INDEX uq_artifact_collection__key ON artifact_collection (key);
CREATE INDEX ix_artifact_collection__key_latest_id ON artifact_collection (key, latest_id);
CREATE INDEX ix_artifact_collection__updated ON artifact_collection (updated);
