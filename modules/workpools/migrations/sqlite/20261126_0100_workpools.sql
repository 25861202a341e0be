CREATE TABLE work_pool (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    base_job_template TEXT NOT NULL DEFAULT '{}',
    is_paused BOOLEAN NOT NULL DEFAULT 0,
    default_queue_id TEXT,
    concurrency_limit INTEGER,
    status TEXT NOT NULL DEFAULT 'NOT_READY',
    last_transitioned_status_at TEXT,
    last_status_event_id TEXT,
    storage_configuration TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX uq_work_pool__name ON work_pool (name);
CREATE INDEX ix_work_pool__type ON work_pool (type);
CREATE INDEX ix_work_pool__updated ON work_pool (updated);

CREATE TABLE work_queue (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    filter TEXT,
    description TEXT NOT NULL DEFAULT '',
    is_paused BOOLEAN NOT NULL DEFAULT 0,
    concurrency_limit INTEGER,
    priority INTEGER NOT NULL,
    last_polled TEXT,
    status TEXT NOT NULL DEFAULT 'NOT_READY',
    work_pool_id TEXT NOT NULL REFERENCES work_pool (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX uq_work_queue__work_pool_id_name ON work_queue (work_pool_id, name);
CREATE INDEX ix_work_queue__work_pool_id_priority ON work_queue (work_pool_id, priority);
CREATE INDEX ix_work_queue__updated ON work_queue (updated);

CREATE TABLE worker (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    work_pool_id TEXT NOT NULL REFERENCES work_pool (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_heartbeat_time TEXT NOT NULL,
    heartbeat_interval_seconds INTEGER,
    status TEXT NOT NULL DEFAULT 'OFFLINE'
);
CREATE UNIQUE INDEX uq_worker__work_pool_id_name ON worker (work_pool_id, name);
CREATE INDEX ix_worker__work_pool_id_last_heartbeat_time ON worker (work_pool_id, last_heartbeat_time);

CREATE INDEX IF NOT EXISTS ix_flow_run__work_queue_id ON flow_run (work_queue_id);
