package flows

import (
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Flow is a flow as stored and as the API returns it (Prefect's core.Flow).
type Flow struct {
	bun.BaseModel `bun:"table:flow,alias:flow"`

	ID      uuid.UUID      `bun:"id,pk,type:uuid" json:"id"`
	Created types.DateTime `bun:"created,notnull" json:"created"`
	Updated types.DateTime `bun:"updated,notnull" json:"updated"`
	Name    string         `bun:"name,notnull" json:"name"`
	Tags    []string       `bun:"tags,notnull" json:"tags"`
	Labels  map[string]any `bun:"labels" json:"labels"`
}

// flowCreate is the body of POST /flows/ (Prefect's FlowCreate).
type flowCreate struct {
	Name   *string        `json:"name"`
	Tags   []string       `json:"tags"`
	Labels map[string]any `json:"labels"`
}

func (c *flowCreate) Validate() []api.FieldError {
	if c.Name == nil {
		return api.Required("name", nil)
	}
	errs := api.CheckName("name", *c.Name)
	return append(errs, api.CheckLabels("labels", c.Labels)...)
}

// flowUpdate is the body of PATCH /flows/{id} (Prefect's FlowUpdate).
type flowUpdate struct {
	Tags *[]string `json:"tags"`
}
