CREATE TABLE deployment (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    flow_id TEXT NOT NULL REFERENCES flow (id) ON DELETE CASCADE,
    version TEXT,
    description TEXT,
    paused BOOLEAN NOT NULL DEFAULT 0,
    concurrency_options TEXT,
    concurrency_limit_id TEXT,
    job_variables TEXT NOT NULL DEFAULT '{}',
    parameters TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',
    labels TEXT,
    work_queue_name TEXT,
    work_queue_id TEXT,
    last_polled TEXT,
    parameter_openapi_schema TEXT,
    path TEXT,
    pull_steps TEXT,
    entrypoint TEXT,
    storage_document_id TEXT,
    infrastructure_document_id TEXT,
    created_by TEXT,
    updated_by TEXT,
    status TEXT NOT NULL DEFAULT 'NOT_READY',
    enforce_parameter_schema BOOLEAN NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX uq_deployment__flow_id_name ON deployment (flow_id, name);
CREATE INDEX ix_deployment__updated ON deployment (updated);
CREATE INDEX ix_deployment__work_queue_id ON deployment (work_queue_id);

CREATE TABLE deployment_schedule (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployment (id) ON DELETE CASCADE,
    schedule TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    max_scheduled_runs INTEGER,
    parameters TEXT NOT NULL DEFAULT '{}',
    slug TEXT
);
CREATE INDEX ix_deployment_schedule__deployment_id ON deployment_schedule (deployment_id);
CREATE UNIQUE INDEX uq_deployment_schedule__deployment_id_slug ON deployment_schedule (deployment_id, slug);
