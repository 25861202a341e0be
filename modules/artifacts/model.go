package artifacts

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Artifact is an artifact as stored and as the API returns it (Prefect's
// core.Artifact). Data is any JSON value, kept as the client sent it.
type Artifact struct {
	bun.BaseModel `bun:"table:artifact,alias:artifact"`

	ID          uuid.UUID         `bun:"id,pk,type:uuid" json:"id"`
	Created     types.DateTime    `bun:"created,notnull" json:"created"`
	Updated     types.DateTime    `bun:"updated,notnull" json:"updated"`
	Key         *string           `bun:"key" json:"key"`
	Type        *string           `bun:"type" json:"type"`
	Description *string           `bun:"description" json:"description"`
	Data        json.RawMessage   `bun:"data,nullzero" json:"data"`
	Metadata    map[string]string `bun:"metadata_,nullzero" json:"metadata_"`
	FlowRunID   *uuid.UUID        `bun:"flow_run_id,type:uuid" json:"flow_run_id"`
	TaskRunID   *uuid.UUID        `bun:"task_run_id,type:uuid" json:"task_run_id"`
}

// Collection is the latest artifact of a key (Prefect's ArtifactCollection).
type Collection struct {
	bun.BaseModel `bun:"table:artifact_collection,alias:artifact_collection"`

	ID          uuid.UUID         `bun:"id,pk,type:uuid" json:"id"`
	Created     types.DateTime    `bun:"created,notnull" json:"created"`
	Updated     types.DateTime    `bun:"updated,notnull" json:"updated"`
	Key         string            `bun:"key,notnull" json:"key"`
	LatestID    uuid.UUID         `bun:"latest_id,notnull,type:uuid" json:"latest_id"`
	Type        *string           `bun:"type" json:"type"`
	Description *string           `bun:"description" json:"description"`
	Data        json.RawMessage   `bun:"data,nullzero" json:"data"`
	Metadata    map[string]string `bun:"metadata_,nullzero" json:"metadata_"`
	FlowRunID   *uuid.UUID        `bun:"flow_run_id,type:uuid" json:"flow_run_id"`
	TaskRunID   *uuid.UUID        `bun:"task_run_id,type:uuid" json:"task_run_id"`
}

// asArtifact is a collection as GET /artifacts/{key}/latest answers it:
// Prefect validates the collection row as an Artifact, so its id is the
// collection's, not the latest artifact's.
func (c *Collection) asArtifact() *Artifact {
	key := c.Key
	return &Artifact{ID: c.ID, Created: c.Created, Updated: c.Updated, Key: &key, Type: c.Type,
		Description: c.Description, Data: c.Data, Metadata: c.Metadata, FlowRunID: c.FlowRunID, TaskRunID: c.TaskRunID}
}

// maxMetadataLength is where Prefect cuts a metadata value (adding "...").
const maxMetadataLength = 500

// artifactCreate is the body of POST /artifacts/ (Prefect's ArtifactCreate).
type artifactCreate struct {
	Key         *string           `json:"key"`
	Type        *string           `json:"type"`
	Description *string           `json:"description"`
	Data        json.RawMessage   `json:"data"`
	Metadata    map[string]string `json:"metadata_"`
	FlowRunID   *uuid.UUID        `json:"flow_run_id"`
	TaskRunID   *uuid.UUID        `json:"task_run_id"`
}

func (c *artifactCreate) Validate() []api.FieldError {
	c.Metadata = cutMetadata(c.Metadata)
	c.Data = nullToNil(c.Data)
	if c.Key != nil && !validKey(*c.Key) {
		return []api.FieldError{{Type: "value_error", Loc: []any{"body", "key"},
			Msg:   "Value error, Artifact key must only contain lowercase letters, numbers, and dashes.",
			Input: *c.Key, Ctx: map[string]any{"error": map[string]any{}}}}
	}
	return nil
}

// validKey is Prefect's ArtifactKey: ^[a-z0-9-]*$ with re.match, which
// also accepts one trailing newline.
func validKey(k string) bool {
	return strings.Trim(strings.TrimSuffix(k, "\n"), "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// artifactUpdate is the body of PATCH /artifacts/{id} (Prefect's
// ArtifactUpdate): only the fields sent are set, a null one to null.
type artifactUpdate struct {
	Data        json.RawMessage `json:"data"`
	Description json.RawMessage `json:"description"`
	Metadata    json.RawMessage `json:"metadata_"`

	description *string
	metadata    map[string]string
}

func (u *artifactUpdate) Validate() []api.FieldError {
	if u.Description != nil && !isNull(u.Description) {
		var d string
		if err := json.Unmarshal(u.Description, &d); err != nil {
			return []api.FieldError{{Type: "string_type", Loc: []any{"body", "description"}, Msg: "Input should be a valid string", Input: decodeAny(u.Description)}}
		}
		u.description = &d
	}
	if u.Metadata != nil && !isNull(u.Metadata) {
		if err := json.Unmarshal(u.Metadata, &u.metadata); err != nil {
			return []api.FieldError{{Type: "dict_type", Loc: []any{"body", "metadata_"}, Msg: "Input should be a valid dictionary", Input: decodeAny(u.Metadata)}}
		}
		u.metadata = cutMetadata(u.metadata)
	}
	return nil
}

// cutMetadata is Prefect's validate_max_metadata_length.
func cutMetadata(m map[string]string) map[string]string {
	for k, v := range m {
		if r := []rune(v); len(r) > maxMetadataLength {
			m[k] = string(r[:maxMetadataLength]) + "..."
		}
	}
	return m
}

func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// nullToNil stores a JSON null as SQL NULL; both read back as null.
func nullToNil(raw json.RawMessage) json.RawMessage {
	if raw == nil || isNull(raw) {
		return nil
	}
	return raw
}

func decodeAny(raw json.RawMessage) any {
	var v any
	_ = json.Unmarshal(raw, &v) // raw was decoded once already
	return v
}
