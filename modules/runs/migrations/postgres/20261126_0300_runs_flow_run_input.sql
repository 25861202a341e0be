CREATE TABLE flow_run_input (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    flow_run_id UUID NOT NULL REFERENCES flow_run (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    sender TEXT
);
CREATE UNIQUE INDEX uq_flow_run_input__flow_run_id_key ON flow_run_input (flow_run_id, key);
