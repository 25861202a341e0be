CREATE TABLE events (
    id TEXT PRIMARY KEY,
    occurred TEXT NOT NULL,
    event TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    related_resource_ids TEXT NOT NULL DEFAULT '[]',
    related TEXT NOT NULL DEFAULT '[]',
    payload TEXT NOT NULL,
    received TEXT NOT NULL,
    recorded TEXT NOT NULL,
    follows TEXT
);
CREATE INDEX ix_events__occurred_id ON events (occurred, id);
CREATE INDEX ix_events__event_occurred ON events (event, occurred);
CREATE INDEX ix_events__resource_id_occurred ON events (resource_id, occurred);

-- One row per resource of an event: the primary one (empty role) and each
-- related one. No foreign key: rows are written and trimmed with their events.
CREATE TABLE event_resources (
    occurred TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_role TEXT NOT NULL,
    resource TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE INDEX ix_event_resources__resource_id__occurred ON event_resources (resource_id, occurred);
CREATE INDEX ix_event_resources__occurred ON event_resources (occurred);
CREATE INDEX ix_event_resources__event_id ON event_resources (event_id);
