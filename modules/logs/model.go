package logs

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Log is a log line as stored and as the API returns it (Prefect's core.Log).
type Log struct {
	bun.BaseModel `bun:"table:log,alias:log"`

	ID        uuid.UUID      `bun:"id,pk,type:uuid" json:"id"`
	Created   types.DateTime `bun:"created,notnull" json:"created"`
	Updated   types.DateTime `bun:"updated,notnull" json:"updated"`
	Name      string         `bun:"name,notnull" json:"name"`
	Level     int            `bun:"level,notnull" json:"level"`
	Message   string         `bun:"message,notnull" json:"message"`
	Timestamp types.DateTime `bun:"timestamp,notnull" json:"timestamp"`
	FlowRunID *uuid.UUID     `bun:"flow_run_id,type:uuid" json:"flow_run_id"`
	TaskRunID *uuid.UUID     `bun:"task_run_id,type:uuid" json:"task_run_id"`
}

// logCreate is one item of the body of POST /logs/ (Prefect's LogCreate).
type logCreate struct {
	Name      *string         `json:"name"`
	Level     *int            `json:"level"`
	Message   *string         `json:"message"`
	Timestamp *types.DateTime `json:"timestamp"`
	FlowRunID *uuid.UUID      `json:"flow_run_id"`
	TaskRunID *uuid.UUID      `json:"task_run_id"`

	raw json.RawMessage // the item as sent, quoted by "missing" errors
}

func (c *logCreate) Validate() []api.FieldError {
	var errs []api.FieldError
	var input any
	_ = json.Unmarshal(c.raw, &input) // c.raw was decoded once already
	if c.Name == nil {
		errs = append(errs, api.Required("name", input)...)
	}
	if c.Level == nil {
		errs = append(errs, api.Required("level", input)...)
	}
	if c.Message == nil {
		errs = append(errs, api.Required("message", input)...)
	}
	if c.Timestamp == nil {
		errs = append(errs, api.Required("timestamp", input)...)
	}
	return errs
}

// decodeCreates reads the body of POST /logs/: a list of LogCreate,
// validated item by item with errors located at ("body", index, field).
func decodeCreates(b []byte) ([]logCreate, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		var input any
		if json.Unmarshal(b, &input) != nil {
			return nil, &api.ValidationError{Errors: []api.FieldError{{Type: "json_invalid", Loc: []any{"body", 0},
				Msg: "JSON decode error", Input: map[string]any{}, Ctx: map[string]any{"error": err.Error()}}}, Body: string(b)}
		}
		return nil, &api.ValidationError{Errors: []api.FieldError{{Type: "is_instance_of", Loc: []any{"body"},
			Msg: "Input should be an instance of Sequence", Input: input, Ctx: map[string]any{"class": "Sequence"}}}, Body: json.RawMessage(b)}
	}
	out := make([]logCreate, len(items))
	for i, raw := range items {
		out[i].raw = raw
		if err := api.DecodeRaw(raw, &out[i], i); err != nil {
			if verr, ok := err.(*api.ValidationError); ok {
				verr.Body = json.RawMessage(b)
			}
			return nil, err
		}
	}
	return out, nil
}

// newLog makes the stored log of a create, without the null bytes that
// PostgreSQL refuses in text (Prefect's _sanitize_log_strings).
func (c *logCreate) newLog(id uuid.UUID, now types.DateTime) Log {
	return Log{
		ID: id, Created: now, Updated: now,
		Name:      strings.ReplaceAll(*c.Name, "\x00", ""),
		Level:     *c.Level,
		Message:   strings.ReplaceAll(*c.Message, "\x00", ""),
		Timestamp: *c.Timestamp,
		FlowRunID: c.FlowRunID,
		TaskRunID: c.TaskRunID,
	}
}
