CREATE TABLE flow_run (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    flow_id UUID NOT NULL REFERENCES flow (id) ON DELETE CASCADE,
    state_id UUID,
    deployment_id UUID,
    deployment_version TEXT,
    work_queue_id UUID,
    work_queue_name TEXT,
    flow_version TEXT,
    parameters JSONB NOT NULL DEFAULT '{}',
    idempotency_key TEXT,
    context JSONB NOT NULL DEFAULT '{}',
    empirical_policy JSONB NOT NULL DEFAULT '{}',
    tags JSONB NOT NULL DEFAULT '[]',
    labels JSONB,
    parent_task_run_id UUID,
    state_type TEXT,
    state_name TEXT,
    state_timestamp TIMESTAMPTZ,
    run_count INTEGER NOT NULL DEFAULT 0,
    expected_start_time TIMESTAMPTZ,
    next_scheduled_start_time TIMESTAMPTZ,
    start_time TIMESTAMPTZ,
    end_time TIMESTAMPTZ,
    total_run_time DOUBLE PRECISION NOT NULL DEFAULT 0,
    auto_scheduled BOOLEAN NOT NULL DEFAULT false,
    infrastructure_document_id UUID,
    infrastructure_pid TEXT,
    created_by JSONB,
    job_variables JSONB DEFAULT '{}'
);
CREATE UNIQUE INDEX uq_flow_run__flow_id_idempotency_key ON flow_run (flow_id, idempotency_key);
CREATE INDEX ix_flow_run__flow_id ON flow_run (flow_id);
CREATE INDEX ix_flow_run__deployment_id ON flow_run (deployment_id);
CREATE INDEX ix_flow_run__parent_task_run_id ON flow_run (parent_task_run_id);
CREATE INDEX ix_flow_run__state_type ON flow_run (state_type);
CREATE INDEX ix_flow_run__expected_start_time_desc ON flow_run (expected_start_time DESC);
CREATE INDEX ix_flow_run__name ON flow_run (name);

CREATE TABLE flow_run_state (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    flow_run_id UUID NOT NULL REFERENCES flow_run (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    message TEXT,
    state_details JSONB NOT NULL DEFAULT '{}',
    data JSONB
);
CREATE UNIQUE INDEX uq_flow_run_state__flow_run_id_timestamp_desc ON flow_run_state (flow_run_id, timestamp DESC);

CREATE TABLE task_run (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    flow_run_id UUID REFERENCES flow_run (id) ON DELETE CASCADE,
    task_key TEXT NOT NULL,
    dynamic_key TEXT NOT NULL,
    cache_key TEXT,
    cache_expiration TIMESTAMPTZ,
    task_version TEXT,
    flow_run_run_count INTEGER NOT NULL DEFAULT 0,
    empirical_policy JSONB NOT NULL DEFAULT '{}',
    task_inputs JSONB NOT NULL DEFAULT '{}',
    tags JSONB NOT NULL DEFAULT '[]',
    labels JSONB,
    state_id UUID,
    state_type TEXT,
    state_name TEXT,
    state_timestamp TIMESTAMPTZ,
    run_count INTEGER NOT NULL DEFAULT 0,
    expected_start_time TIMESTAMPTZ,
    next_scheduled_start_time TIMESTAMPTZ,
    start_time TIMESTAMPTZ,
    end_time TIMESTAMPTZ,
    total_run_time DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_task_run__flow_run_id_task_key_dynamic_key ON task_run (flow_run_id, task_key, dynamic_key);
CREATE INDEX ix_task_run__flow_run_id ON task_run (flow_run_id);
CREATE INDEX ix_task_run__state_type ON task_run (state_type);
CREATE INDEX ix_task_run__expected_start_time_desc ON task_run (expected_start_time DESC);

CREATE TABLE task_run_state (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    task_run_id UUID NOT NULL REFERENCES task_run (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    message TEXT,
    state_details JSONB NOT NULL DEFAULT '{}',
    data JSONB
);
CREATE UNIQUE INDEX uq_task_run_state__task_run_id_timestamp_desc ON task_run_state (task_run_id, timestamp DESC);

CREATE TABLE task_run_state_cache (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    cache_key TEXT NOT NULL,
    cache_expiration TIMESTAMPTZ,
    task_run_state_id UUID NOT NULL
);
CREATE INDEX ix_task_run_state_cache__cache_key_created_desc ON task_run_state_cache (cache_key, created DESC);
ALTER TABLE flow_run ADD CONSTRAINT fk_flow_run__parent_task_run_id FOREIGN KEY (parent_task_run_id) REFERENCES task_run (id) ON DELETE SET NULL;
