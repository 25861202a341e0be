package runs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// dashboardBuckets is how many time buckets the dashboard's task-run chart has.
const dashboardBuckets = 20

// taskRunCount is one bucket of the dashboard's task-run chart.
type taskRunCount struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// dashboardKeys are the dashboard's filters: the task runs' own, then the
// related ones (the work pool and queue filters reach task runs through
// their flow run's queue, and match nothing without the workpools module).
var dashboardKeys = append([]string{"task_runs"}, append(slices.Clone(taskRunRelated), "work_pools", "work_queues")...)

// dashboardCounts is POST /ui/task_runs/dashboard/counts: the terminal
// task runs started in task_runs.start_time, in 20 buckets, split into
// failed (Failed, Crashed) and the rest.
func (h *handlers) dashboardCounts(w http.ResponseWriter, r *http.Request) error {
	fs, err := decodeWithFilters(r, dashboardKeys, nil)
	if err != nil {
		return err
	}
	raw := fs["task_runs"]
	if len(raw) == 0 || string(raw) == "null" {
		return invalid(r, api.Required("task_runs", nil))
	}
	var own map[string]json.RawMessage
	if err := api.DecodeRaw(raw, &own, "task_runs"); err != nil {
		return withKeptBody(r, err)
	}
	var window times
	if st := own["start_time"]; len(st) > 0 && string(st) != "null" {
		if err := api.DecodeRaw(st, &window, "task_runs", "start_time"); err != nil {
			return withKeptBody(r, err)
		}
	}
	if window.After == nil {
		return &api.Error{Status: http.StatusUnprocessableEntity, Detail: "task_runs.start_time.after_ is required"}
	}
	// Only terminal runs count, whatever state filter the body had.
	own["state"] = json.RawMessage(`{"type":{"any_":["COMPLETED","FAILED","CANCELLED","CRASHED"]}}`)
	if fs["task_runs"], err = json.Marshal(own); err != nil {
		return fmt.Errorf("encode task run filter: %w", err)
	}
	start := window.After.Truncate(time.Minute)
	end := clock().UTC()
	if window.Before != nil {
		end = window.Before.Time
	}
	end = end.Truncate(time.Minute).Add(time.Minute - time.Microsecond) // end of that minute
	delta := end.Sub(start) / dashboardBuckets

	var rows []struct {
		StartTime *types.DateTime `bun:"start_time"`
		StateType o.StateType     `bun:"state_type"`
	}
	q := h.repo.db.Read.NewSelect().TableExpr("task_run AS task_run").ColumnExpr("task_run.start_time, task_run.state_type")
	if q, err = h.repo.filters.Apply(q, "task_run", "task_runs", dashboardKeys[1:], fs); err != nil {
		return withKeptBody(r, err)
	}
	if err := q.Scan(r.Context(), &rows); err != nil {
		return fmt.Errorf("read dashboard task runs: %w", db.Translate(err))
	}
	out := make([]taskRunCount, dashboardBuckets)
	for _, row := range rows {
		if row.StartTime == nil || delta <= 0 {
			continue
		}
		i := int(row.StartTime.Sub(start) / delta)
		if i < 0 || i >= dashboardBuckets {
			continue
		}
		if row.StateType == o.Failed || row.StateType == o.Crashed {
			out[i].Failed++
		} else {
			out[i].Completed++
		}
	}
	return api.WriteJSON(w, http.StatusOK, out)
}
