CREATE TABLE flow_run_input (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    flow_run_id TEXT NOT NULL REFERENCES flow_run (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    sender TEXT
);
CREATE UNIQUE INDEX uq_flow_run_input__flow_run_id_key ON flow_run_input (flow_run_id, key);
