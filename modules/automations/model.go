package automations

import (
	"encoding/json"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/types"
)

// Automation is an automation as stored and as the API returns it (Prefect's
// Automation), fields in Prefect's order. Trigger and the action lists are
// the validated JSON, with Prefect's defaults filled in.
type Automation struct {
	bun.BaseModel `bun:"table:automation,alias:automation"`

	Name             string          `bun:"name,notnull" json:"name"`
	Description      string          `bun:"description,notnull" json:"description"`
	Enabled          bool            `bun:"enabled,notnull" json:"enabled"`
	Tags             []string        `bun:"tags,notnull" json:"tags"`
	Trigger          json.RawMessage `bun:"trigger,notnull" json:"trigger"`
	Actions          json.RawMessage `bun:"actions,notnull" json:"actions"`
	ActionsOnTrigger json.RawMessage `bun:"actions_on_trigger,notnull" json:"actions_on_trigger"`
	ActionsOnResolve json.RawMessage `bun:"actions_on_resolve,notnull" json:"actions_on_resolve"`
	ID               uuid.UUID       `bun:"id,pk,type:uuid" json:"id"`
	Created          types.DateTime  `bun:"created,notnull" json:"created"`
	Updated          types.DateTime  `bun:"updated,notnull" json:"updated"`
}

// relatedResource links an automation to a resource id, e.g. the deployment
// a run-deployment action selects, or the resource that owns it.
type relatedResource struct {
	bun.BaseModel `bun:"table:automation_related_resource,alias:arr"`

	ID           uuid.UUID      `bun:"id,pk,type:uuid"`
	Created      types.DateTime `bun:"created,notnull"`
	Updated      types.DateTime `bun:"updated,notnull"`
	AutomationID uuid.UUID      `bun:"automation_id,notnull,type:uuid"`
	ResourceID   string         `bun:"resource_id,notnull"`
	OwnedBy      bool           `bun:"automation_owned_by_resource,notnull"`
}

// fromBody builds the automation a validated create or update body describes.
func fromBody(id uuid.UUID, body *object) *Automation {
	tags := []string{}
	for _, t := range body.get("tags").([]any) {
		tags = append(tags, t.(string))
	}
	return &Automation{
		ID:               id,
		Name:             body.get("name").(string),
		Description:      body.get("description").(string),
		Enabled:          body.get("enabled").(bool),
		Tags:             tags,
		Trigger:          mustJSON(body.get("trigger")),
		Actions:          mustJSON(body.get("actions")),
		ActionsOnTrigger: mustJSON(body.get("actions_on_trigger")),
		ActionsOnResolve: mustJSON(body.get("actions_on_resolve")),
	}
}

// mustJSON encodes validated values, which are always plain JSON.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// selectedDeployments are the deployments the run-deployment actions of
// actions select, which Prefect records as related resources.
func selectedDeployments(actions any) []string {
	seen := map[string]bool{}
	var out []string
	list, _ := actions.([]any)
	for _, a := range list {
		act, ok := a.(*object)
		if !ok || act.get("type") != "run-deployment" || act.get("source") != "selected" {
			continue
		}
		id, _ := act.get("deployment_id").(string)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, "prefect.deployment."+id)
		}
	}
	return out
}
