package runs

import (
	"math/rand/v2"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

var (
	flowRunKeys = append([]string{"flow_runs"}, flowRunRelated...)
	taskRunKeys = append([]string{"task_runs"}, taskRunRelated...)
)

func (h *handlers) createTaskRun(w http.ResponseWriter, r *http.Request) error {
	var b taskRunCreate
	if err := api.Decode(r, &b); err != nil {
		return err
	}
	now := types.Now()
	run := &TaskRun{FlowRunID: b.FlowRunID, TaskKey: *b.TaskKey, DynamicKey: *b.DynamicKey, CacheKey: b.CacheKey,
		CacheExpiration: b.CacheExpiration, TaskVersion: b.TaskVersion, TaskInputs: orEmpty(b.TaskInputs)}
	run.ID = uuid.New()
	if b.ID != nil {
		run.ID = *b.ID
	}
	run.Created, run.Updated, run.Name, run.Tags = now, now, runName(b.Name), b.Tags
	if run.Tags == nil {
		run.Tags = []string{}
	}
	run.Labels = map[string]any{}
	for k, v := range b.Labels {
		run.Labels[k] = v
	}
	if b.FlowRunID != nil {
		run.Labels["prefect.flow-run.id"] = b.FlowRunID.String()
		if fr, err := h.repo.flowRun(r.Context(), *b.FlowRunID); err == nil {
			run.Labels["prefect.flow.id"] = fr.FlowID.String()
		}
	}
	if b.EmpiricalPolicy != nil {
		run.EmpiricalPolicy = *b.EmpiricalPolicy
	}
	state := &o.State{ID: newStateID(), Type: o.Pending, Name: "Pending", Timestamp: now}
	if b.State != nil {
		state = b.State.toState(now)
	}
	stored, inserted, err := h.repo.createTaskRun(r.Context(), run, state, orchestrationParams(r))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if inserted {
		status = http.StatusCreated
	}
	return api.WriteJSON(w, status, stored)
}

// runName is the given name, or a random "adjective-animal" slug.
func runName(name *string) string {
	if name != nil && *name != "" {
		return *name
	}
	return adjectives[rand.IntN(len(adjectives))] + "-" + animals[rand.IntN(len(animals))]
}
