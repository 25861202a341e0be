CREATE TABLE events (
    id UUID PRIMARY KEY,
    occurred TIMESTAMPTZ NOT NULL,
    event TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource JSONB NOT NULL,
    related_resource_ids JSONB NOT NULL DEFAULT '[]',
    related JSONB NOT NULL DEFAULT '[]',
    payload JSONB NOT NULL,
    received TIMESTAMPTZ NOT NULL,
    recorded TIMESTAMPTZ NOT NULL,
    follows UUID
);
CREATE INDEX ix_events__occurred_id ON events (occurred, id);
CREATE INDEX ix_events__event_occurred ON events (event, occurred);
CREATE INDEX ix_events__resource_id_occurred ON events (resource_id, occurred);

-- One row per resource of an event: the primary one (empty role) and each
-- related one. No foreign key: rows are written and trimmed with their events.
CREATE TABLE event_resources (
    occurred TIMESTAMPTZ NOT NULL,
    resource_id TEXT NOT NULL,
    resource_role TEXT NOT NULL,
    resource JSONB NOT NULL,
    event_id UUID NOT NULL
);
CREATE INDEX ix_event_resources__resource_id__occurred ON event_resources (resource_id, occurred);
CREATE INDEX ix_event_resources__occurred ON event_resources (occurred);
CREATE INDEX ix_event_resources__event_id ON event_resources (event_id);
