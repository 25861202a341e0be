package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// maxUIIDs is the max_length of the id lists the UI routes take.
const maxUIIDs = 200

// simpleFlowRun is the UI's SimpleFlowRun; durations are seconds.
type simpleFlowRun struct {
	ID        uuid.UUID      `json:"id"`
	StateType *o.StateType   `json:"state_type"`
	Timestamp types.DateTime `json:"timestamp"`
	Duration  float64        `json:"duration"`
	Lateness  float64        `json:"lateness"`
}

// uiFlowRunHistory is POST /ui/flow_runs/history: one point per flow run.
func (h *handlers) uiFlowRunHistory(w http.ResponseWriter, r *http.Request) error {
	sort := api.NewEnum("EXPECTED_START_TIME_DESC", flowRunSortNames...)
	limit, offset := 1000, 0
	fs, err := decodeWithFilters(r, []string{"flows", "flow_runs", "task_runs", "deployments", "work_pools"},
		api.Params{"sort": sort, "limit": &limit, "offset": &offset})
	if err != nil {
		return err
	}
	if errs := bounded("limit", limit, ptr(0), ptr(1000)); errs != nil { // Python has no lower bound; a negative LIMIT fails on PostgreSQL
		return invalid(r, errs)
	}
	if errs := bounded("offset", offset, ptr(0), nil); errs != nil {
		return invalid(r, errs)
	}
	runs, err := h.repo.listFlowRuns(r.Context(), fs, sort.Value, limit, offset)
	if err != nil {
		return withKeptBody(r, err)
	}
	out := make([]simpleFlowRun, 0, len(runs))
	for _, run := range runs {
		p := simpleFlowRun{ID: run.ID, StateType: run.StateType, Duration: run.EstimatedRunTime, Lateness: run.EstimatedStartTimeDelta}
		switch {
		case run.StartTime != nil:
			p.Timestamp = *run.StartTime
		case run.ExpectedStartTime != nil:
			p.Timestamp = *run.ExpectedStartTime
		}
		out = append(out, p)
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// decodeIDs reads the required list of at most maxUIIDs ids under key.
func decodeIDs(r *http.Request, key string) ([]uuid.UUID, error) {
	var ids *[]uuid.UUID
	keepBody(r)
	if err := api.DecodeParams(r, api.Params{key: &ids}); err != nil {
		return nil, err
	}
	if ids == nil {
		return nil, invalid(r, api.Required(key, nil))
	}
	if len(*ids) > maxUIIDs {
		return nil, invalid(r, []api.FieldError{{Type: "too_long", Loc: []any{"body", key},
			Msg:   fmt.Sprintf("List should have at most %d items after validation, not %d", maxUIIDs, len(*ids)),
			Input: *ids, Ctx: map[string]any{"field_type": "List", "max_length": maxUIIDs, "actual_length": len(*ids)}}})
	}
	return *ids, nil
}

// writeByID writes a JSON object keyed by ids in their order (each once),
// with value(id) as the value.
func writeByID(w http.ResponseWriter, ids []uuid.UUID, value func(uuid.UUID) any) error {
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if len(seen) > 1 {
			buf.WriteByte(',')
		}
		v, err := json.Marshal(value(id))
		if err != nil {
			return fmt.Errorf("encode %s: %w", id, err)
		}
		buf.WriteString(`"` + id.String() + `":`)
		buf.Write(v)
	}
	buf.WriteByte('}')
	return api.WriteJSON(w, http.StatusOK, json.RawMessage(buf.Bytes()))
}

// countTaskRunsByFlowRun is POST /ui/flow_runs/count-task-runs: task runs
// per flow run, not counting the parent task runs of subflows.
func (h *handlers) countTaskRunsByFlowRun(w http.ResponseWriter, r *http.Request) error {
	ids, err := decodeIDs(r, "flow_run_ids")
	if err != nil {
		return err
	}
	var rows []struct {
		FlowRunID uuid.UUID `bun:"flow_run_id"`
		N         int       `bun:"n"`
	}
	if len(ids) > 0 {
		err = h.repo.db.Read.NewSelect().TableExpr("task_run AS task_run").ColumnExpr("task_run.flow_run_id, count(*) AS n").
			Where("task_run.flow_run_id IN (?)", bun.In(ids)).
			Where("NOT EXISTS (SELECT 1 FROM flow_run AS sfr WHERE sfr.parent_task_run_id = task_run.id)").
			GroupExpr("task_run.flow_run_id").Scan(r.Context(), &rows)
		if err != nil {
			return fmt.Errorf("count task runs by flow run: %w", db.Translate(err))
		}
	}
	counts := map[uuid.UUID]int{}
	for _, row := range rows {
		counts[row.FlowRunID] = row.N
	}
	return writeByID(w, ids, func(id uuid.UUID) any { return counts[id] })
}

// countByState is Prefect's CountByState, in its field order.
type countByState struct {
	Completed  int `json:"COMPLETED"`
	Pending    int `json:"PENDING"`
	Running    int `json:"RUNNING"`
	Failed     int `json:"FAILED"`
	Cancelled  int `json:"CANCELLED"`
	Crashed    int `json:"CRASHED"`
	Paused     int `json:"PAUSED"`
	Cancelling int `json:"CANCELLING"`
	Scheduled  int `json:"SCHEDULED"`
}

func (c *countByState) add(t o.StateType, n int) {
	fields := map[o.StateType]*int{o.Completed: &c.Completed, o.Pending: &c.Pending, o.Running: &c.Running,
		o.Failed: &c.Failed, o.Cancelled: &c.Cancelled, o.Crashed: &c.Crashed, o.Paused: &c.Paused,
		o.Cancelling: &c.Cancelling, o.Scheduled: &c.Scheduled}
	if f := fields[t]; f != nil {
		*f += n
	}
}

// taskRunCountsByState is POST /ui/task_runs/count.
func (h *handlers) taskRunCountsByState(w http.ResponseWriter, r *http.Request) error {
	fs, err := decodeWithFilters(r, []string{"flows", "flow_runs", "task_runs", "deployments"}, nil)
	if err != nil {
		return err
	}
	var rows []struct {
		StateType o.StateType `bun:"state_type"`
		N         int         `bun:"n"`
	}
	q := h.repo.db.Read.NewSelect().TableExpr("task_run AS task_run").ColumnExpr("task_run.state_type, count(*) AS n").
		Where("task_run.state_type IS NOT NULL").GroupExpr("task_run.state_type")
	if q, err = h.repo.filters.Apply(q, "task_run", "task_runs", taskRunRelated, fs); err != nil {
		return withKeptBody(r, err)
	}
	if err := q.Scan(r.Context(), &rows); err != nil {
		return fmt.Errorf("count task runs by state: %w", db.Translate(err))
	}
	var out countByState
	for _, row := range rows {
		out.add(row.StateType, row.N)
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// uiTaskRun is Prefect's UITaskRun: a task run and its flow run's name.
type uiTaskRun struct {
	*TaskRun
	FlowRunName *string `json:"flow_run_name"`
}

// readUITaskRun is GET /ui/task_runs/{id}.
func (h *handlers) readUITaskRun(w http.ResponseWriter, r *http.Request) error {
	const notFound = "Task not found"
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	run, err := h.repo.taskRun(r.Context(), id)
	if err != nil {
		return notFoundOr(err, notFound)
	}
	out := uiTaskRun{TaskRun: run}
	if run.FlowRunID != nil {
		var name string
		err := h.repo.db.Read.NewSelect().TableExpr("flow_run").Column("name").Where("id = ?", *run.FlowRunID).Scan(r.Context(), &name)
		if err == nil {
			out.FlowRunName = &name
		} else if !isNotFound(db.Translate(err)) {
			return fmt.Errorf("read flow run name: %w", db.Translate(err))
		}
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// simpleNextFlowRun is the UI's SimpleNextFlowRun.
type simpleNextFlowRun struct {
	ID                     uuid.UUID       `bun:"id" json:"id"`
	FlowID                 uuid.UUID       `bun:"flow_id" json:"flow_id"`
	Name                   string          `bun:"name" json:"name"`
	StateName              *string         `bun:"state_name" json:"state_name"`
	StateType              *o.StateType    `bun:"state_type" json:"state_type"`
	NextScheduledStartTime *types.DateTime `bun:"next_scheduled_start_time" json:"next_scheduled_start_time"`
}

// nextRuns is POST /ui/flows/next-runs: each flow's scheduled run due first.
func (h *handlers) nextRuns(w http.ResponseWriter, r *http.Request) error {
	ids, err := decodeIDs(r, "flow_ids")
	if err != nil {
		return err
	}
	next, err := h.repo.nextRuns(r.Context(), ids)
	if err != nil {
		return err
	}
	return writeByID(w, ids, func(id uuid.UUID) any { return next[id] })
}

func (r *repo) nextRuns(ctx context.Context, flowIDs []uuid.UUID) (map[uuid.UUID]*simpleNextFlowRun, error) {
	out := map[uuid.UUID]*simpleNextFlowRun{}
	if len(flowIDs) == 0 {
		return out, nil
	}
	var rows []simpleNextFlowRun
	err := r.db.Read.NewSelect().TableExpr("flow_run AS fr").
		ColumnExpr("fr.id, fr.flow_id, fr.name, fr.state_name, fr.state_type, fr.next_scheduled_start_time").
		Join(`JOIN (SELECT flow_id, MIN(next_scheduled_start_time) AS first_time FROM flow_run
			WHERE flow_id IN (?) AND state_type = 'SCHEDULED' GROUP BY flow_id) AS mt
			ON fr.flow_id = mt.flow_id AND fr.next_scheduled_start_time = mt.first_time`, bun.In(flowIDs)).
		Where("fr.state_type = 'SCHEDULED'").OrderExpr("fr.id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read next flow runs: %w", db.Translate(err))
	}
	for i := range rows {
		if out[rows[i].FlowID] == nil {
			out[rows[i].FlowID] = &rows[i]
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

// bounded checks ge/le bounds of an integer body parameter as pydantic
// reports them.
func bounded(field string, v int, ge, le *int) []api.FieldError {
	if ge != nil && v < *ge {
		return []api.FieldError{{Type: "greater_than_equal", Loc: []any{"body", field},
			Msg: fmt.Sprintf("Input should be greater than or equal to %d", *ge), Input: v, Ctx: map[string]any{"ge": *ge}}}
	}
	if le != nil && v > *le {
		return []api.FieldError{{Type: "less_than_equal", Loc: []any{"body", field},
			Msg: fmt.Sprintf("Input should be less than or equal to %d", *le), Input: v, Ctx: map[string]any{"le": *le}}}
	}
	return nil
}
