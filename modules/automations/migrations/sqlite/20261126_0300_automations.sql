CREATE TABLE automation (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]',
    trigger TEXT NOT NULL,
    actions TEXT NOT NULL,
    actions_on_trigger TEXT NOT NULL DEFAULT '[]',
    actions_on_resolve TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX ix_automation__created ON automation (created);
CREATE INDEX ix_automation__updated ON automation (updated);
CREATE INDEX ix_automation__name ON automation (name);

CREATE TABLE automation_related_resource (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    automation_id TEXT NOT NULL REFERENCES automation (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL,
    automation_owned_by_resource BOOLEAN NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_automation_related_resource__automation_id__resource_id
    ON automation_related_resource (automation_id, resource_id);
CREATE INDEX ix_automation_related_resource__resource_id ON automation_related_resource (resource_id);

CREATE TABLE automation_bucket (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    automation_id TEXT NOT NULL REFERENCES automation (id) ON DELETE CASCADE,
    trigger_id TEXT NOT NULL,
    bucketing_key TEXT NOT NULL DEFAULT '[]',
    last_event TEXT,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_operation TEXT,
    triggered_at TEXT
);
CREATE UNIQUE INDEX uq_automation_bucket__automation_id__trigger_id__bucketing_key
    ON automation_bucket (automation_id, trigger_id, bucketing_key);
CREATE INDEX ix_automation_bucket__automation_id__end ON automation_bucket (automation_id, "end");

CREATE TABLE composite_trigger_child_firing (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    automation_id TEXT NOT NULL REFERENCES automation (id) ON DELETE CASCADE,
    parent_trigger_id TEXT NOT NULL,
    child_trigger_id TEXT NOT NULL,
    child_firing_id TEXT NOT NULL,
    child_fired_at TEXT,
    child_firing TEXT NOT NULL
);
CREATE UNIQUE INDEX uq_composite_trigger_child_firing__a_id__pt_id__ct__id
    ON composite_trigger_child_firing (automation_id, parent_trigger_id, child_trigger_id);
