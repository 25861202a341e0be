CREATE TABLE flow_run (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    flow_id TEXT NOT NULL REFERENCES flow (id) ON DELETE CASCADE,
    state_id TEXT,
    deployment_id TEXT,
    deployment_version TEXT,
    work_queue_id TEXT,
    work_queue_name TEXT,
    flow_version TEXT,
    parameters TEXT NOT NULL DEFAULT '{}',
    idempotency_key TEXT,
    context TEXT NOT NULL DEFAULT '{}',
    empirical_policy TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',
    labels TEXT,
    parent_task_run_id TEXT REFERENCES task_run (id) ON DELETE SET NULL,
    state_type TEXT,
    state_name TEXT,
    state_timestamp TEXT,
    run_count INTEGER NOT NULL DEFAULT 0,
    expected_start_time TEXT,
    next_scheduled_start_time TEXT,
    start_time TEXT,
    end_time TEXT,
    total_run_time REAL NOT NULL DEFAULT 0,
    auto_scheduled BOOLEAN NOT NULL DEFAULT 0,
    infrastructure_document_id TEXT,
    infrastructure_pid TEXT,
    created_by TEXT,
    job_variables TEXT DEFAULT '{}'
);
CREATE UNIQUE INDEX uq_flow_run__flow_id_idempotency_key ON flow_run (flow_id, idempotency_key);
CREATE INDEX ix_flow_run__flow_id ON flow_run (flow_id);
CREATE INDEX ix_flow_run__deployment_id ON flow_run (deployment_id);
CREATE INDEX ix_flow_run__parent_task_run_id ON flow_run (parent_task_run_id);
CREATE INDEX ix_flow_run__state_type ON flow_run (state_type);
CREATE INDEX ix_flow_run__expected_start_time_desc ON flow_run (expected_start_time DESC);
CREATE INDEX ix_flow_run__name ON flow_run (name);

CREATE TABLE flow_run_state (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    flow_run_id TEXT NOT NULL REFERENCES flow_run (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    name TEXT NOT NULL,
    message TEXT,
    state_details TEXT NOT NULL DEFAULT '{}',
    data TEXT
);
CREATE UNIQUE INDEX uq_flow_run_state__flow_run_id_timestamp_desc ON flow_run_state (flow_run_id, timestamp DESC);

CREATE TABLE task_run (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    flow_run_id TEXT REFERENCES flow_run (id) ON DELETE CASCADE,
    task_key TEXT NOT NULL,
    dynamic_key TEXT NOT NULL,
    cache_key TEXT,
    cache_expiration TEXT,
    task_version TEXT,
    flow_run_run_count INTEGER NOT NULL DEFAULT 0,
    empirical_policy TEXT NOT NULL DEFAULT '{}',
    task_inputs TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',
    labels TEXT,
    state_id TEXT,
    state_type TEXT,
    state_name TEXT,
    state_timestamp TEXT,
    run_count INTEGER NOT NULL DEFAULT 0,
    expected_start_time TEXT,
    next_scheduled_start_time TEXT,
    start_time TEXT,
    end_time TEXT,
    total_run_time REAL NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_task_run__flow_run_id_task_key_dynamic_key ON task_run (flow_run_id, task_key, dynamic_key);
CREATE INDEX ix_task_run__flow_run_id ON task_run (flow_run_id);
CREATE INDEX ix_task_run__state_type ON task_run (state_type);
CREATE INDEX ix_task_run__expected_start_time_desc ON task_run (expected_start_time DESC);

CREATE TABLE task_run_state (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    task_run_id TEXT NOT NULL REFERENCES task_run (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    name TEXT NOT NULL,
    message TEXT,
    state_details TEXT NOT NULL DEFAULT '{}',
    data TEXT
);
CREATE UNIQUE INDEX uq_task_run_state__task_run_id_timestamp_desc ON task_run_state (task_run_id, timestamp DESC);

CREATE TABLE task_run_state_cache (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    cache_expiration TEXT,
    task_run_state_id TEXT NOT NULL
);
CREATE INDEX ix_task_run_state_cache__cache_key_created_desc ON task_run_state_cache (cache_key, created DESC);
