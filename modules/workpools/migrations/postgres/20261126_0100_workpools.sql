CREATE TABLE work_pool (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    base_job_template JSONB NOT NULL DEFAULT '{}',
    is_paused BOOLEAN NOT NULL DEFAULT FALSE,
    default_queue_id UUID,
    concurrency_limit INTEGER,
    status TEXT NOT NULL DEFAULT 'NOT_READY',
    last_transitioned_status_at TIMESTAMPTZ,
    last_status_event_id UUID,
    storage_configuration JSONB NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX uq_work_pool__name ON work_pool (name);
CREATE INDEX ix_work_pool__type ON work_pool (type);
CREATE INDEX ix_work_pool__updated ON work_pool (updated);

CREATE TABLE work_queue (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    filter JSONB,
    description TEXT NOT NULL DEFAULT '',
    is_paused BOOLEAN NOT NULL DEFAULT FALSE,
    concurrency_limit INTEGER,
    priority INTEGER NOT NULL,
    last_polled TIMESTAMPTZ,
    status TEXT NOT NULL DEFAULT 'NOT_READY',
    work_pool_id UUID NOT NULL REFERENCES work_pool (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX uq_work_queue__work_pool_id_name ON work_queue (work_pool_id, name);
CREATE INDEX ix_work_queue__work_pool_id_priority ON work_queue (work_pool_id, priority);
CREATE INDEX ix_work_queue__updated ON work_queue (updated);

CREATE TABLE worker (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    work_pool_id UUID NOT NULL REFERENCES work_pool (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_heartbeat_time TIMESTAMPTZ NOT NULL,
    heartbeat_interval_seconds INTEGER,
    status TEXT NOT NULL DEFAULT 'OFFLINE'
);
CREATE UNIQUE INDEX uq_worker__work_pool_id_name ON worker (work_pool_id, name);
CREATE INDEX ix_worker__work_pool_id_last_heartbeat_time ON worker (work_pool_id, last_heartbeat_time);

CREATE INDEX IF NOT EXISTS ix_flow_run__work_queue_id ON flow_run (work_queue_id);
