CREATE TABLE deployment (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    flow_id UUID NOT NULL REFERENCES flow (id) ON DELETE CASCADE,
    version TEXT,
    description TEXT,
    paused BOOLEAN NOT NULL DEFAULT false,
    concurrency_options JSONB,
    concurrency_limit_id UUID,
    job_variables JSONB NOT NULL DEFAULT '{}',
    parameters JSONB NOT NULL DEFAULT '{}',
    tags JSONB NOT NULL DEFAULT '[]',
    labels JSONB,
    work_queue_name TEXT,
    work_queue_id UUID,
    last_polled TIMESTAMPTZ,
    parameter_openapi_schema JSONB,
    path TEXT,
    pull_steps JSONB,
    entrypoint TEXT,
    storage_document_id UUID,
    infrastructure_document_id UUID,
    created_by JSONB,
    updated_by JSONB,
    status TEXT NOT NULL DEFAULT 'NOT_READY',
    enforce_parameter_schema BOOLEAN NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX uq_deployment__flow_id_name ON deployment (flow_id, name);
CREATE INDEX ix_deployment__updated ON deployment (updated);
CREATE INDEX ix_deployment__work_queue_id ON deployment (work_queue_id);

CREATE TABLE deployment_schedule (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    deployment_id UUID NOT NULL REFERENCES deployment (id) ON DELETE CASCADE,
    schedule JSONB NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true,
    max_scheduled_runs INTEGER,
    parameters JSONB NOT NULL DEFAULT '{}',
    slug TEXT
);
CREATE INDEX ix_deployment_schedule__deployment_id ON deployment_schedule (deployment_id);
CREATE UNIQUE INDEX uq_deployment_schedule__deployment_id_slug ON deployment_schedule (deployment_id, slug);
