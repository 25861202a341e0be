package runs

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// dependencyResult is Prefect's DependencyResult, one task run of the
// GET /flow_runs/{id}/graph (v1) answer.
type dependencyResult struct {
	ID                   uuid.UUID         `json:"id"`
	Name                 string            `json:"name"`
	UpstreamDependencies []json.RawMessage `json:"upstream_dependencies"`
	State                *o.State          `json:"state"`
	ExpectedStartTime    *types.DateTime   `json:"expected_start_time"`
	StartTime            *types.DateTime   `json:"start_time"`
	EndTime              *types.DateTime   `json:"end_time"`
	TotalRunTime         float64           `json:"total_run_time"`
	EstimatedRunTime     float64           `json:"estimated_run_time"`
	UntrackableResult    bool              `json:"untrackable_result"`
}

// graphV1 is GET /flow_runs/{id}/graph: each task run of the flow run with
// the runs its inputs came from.
func (h *featureHandlers) graphV1(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	if _, err := h.repo.flowRun(r.Context(), id); isNotFound(err) {
		return objectNotFound(w, fmt.Sprintf("Flow run with id %s not found", id))
	} else if err != nil {
		return err
	}
	runs := []TaskRun{}
	err = h.repo.db.Read.NewSelect().Model(&runs).Relation("StateRow").Where("task_run.flow_run_id = ?", id).
		OrderExpr("task_run.expected_start_time, task_run.id").Scan(r.Context())
	if err != nil {
		return fmt.Errorf("read task runs of flow run %s: %w", id, db.Translate(err))
	}
	readyTaskRuns(runs, clock())
	out := make([]dependencyResult, 0, len(runs))
	for _, run := range runs {
		d := dependencyResult{ID: run.ID, Name: run.Name, UpstreamDependencies: upstream(run.TaskInputs), State: run.State,
			ExpectedStartTime: run.ExpectedStartTime, StartTime: run.StartTime, EndTime: run.EndTime,
			TotalRunTime: run.TotalRunTime, EstimatedRunTime: run.EstimatedRunTime}
		if run.State != nil {
			d.UntrackableResult = run.State.StateDetails.UntrackableResult
		}
		out = append(out, d)
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// upstream lists the distinct run inputs (those naming a run by id) of a
// task run's inputs.
func upstream(inputs map[string]any) []json.RawMessage {
	out := []json.RawMessage{}
	seen := map[string]bool{}
	for _, v := range inputs {
		args, _ := v.([]any)
		for _, a := range args {
			m, _ := a.(map[string]any)
			if id, ok := m["id"].(string); !ok || seen[id] {
				continue
			}
			b, err := json.Marshal(map[string]any{"input_type": m["input_type"], "id": m["id"]})
			if err != nil {
				continue
			}
			seen[m["id"].(string)] = true
			out = append(out, b)
		}
	}
	return out
}
