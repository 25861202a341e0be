CREATE TABLE automation (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    tags JSONB NOT NULL DEFAULT '[]',
    trigger JSONB NOT NULL,
    actions JSONB NOT NULL,
    actions_on_trigger JSONB NOT NULL DEFAULT '[]',
    actions_on_resolve JSONB NOT NULL DEFAULT '[]'
);
CREATE INDEX ix_automation__created ON automation (created);
CREATE INDEX ix_automation__updated ON automation (updated);
CREATE INDEX ix_automation__name ON automation (name);

CREATE TABLE automation_related_resource (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    automation_id UUID NOT NULL REFERENCES automation (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL,
    automation_owned_by_resource BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX uq_automation_related_resource__automation_id__resource_id
    ON automation_related_resource (automation_id, resource_id);
CREATE INDEX ix_automation_related_resource__resource_id ON automation_related_resource (resource_id);

CREATE TABLE automation_bucket (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    automation_id UUID NOT NULL REFERENCES automation (id) ON DELETE CASCADE,
    trigger_id UUID NOT NULL,
    bucketing_key TEXT NOT NULL DEFAULT '[]',
    last_event JSONB,
    start TIMESTAMPTZ NOT NULL,
    "end" TIMESTAMPTZ NOT NULL,
    count INTEGER NOT NULL,
    last_operation TEXT,
    triggered_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX uq_automation_bucket__automation_id__trigger_id__bucketing_key
    ON automation_bucket (automation_id, trigger_id, bucketing_key);
CREATE INDEX ix_automation_bucket__automation_id__end ON automation_bucket (automation_id, "end");

CREATE TABLE composite_trigger_child_firing (
    id UUID PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    automation_id UUID NOT NULL REFERENCES automation (id) ON DELETE CASCADE,
    parent_trigger_id UUID NOT NULL,
    child_trigger_id UUID NOT NULL,
    child_firing_id UUID NOT NULL,
    child_fired_at TIMESTAMPTZ,
    child_firing JSONB NOT NULL
);
CREATE UNIQUE INDEX uq_composite_trigger_child_firing__a_id__pt_id__ct__id
    ON composite_trigger_child_firing (automation_id, parent_trigger_id, child_trigger_id);
