package runs

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// maxHistoryIntervals caps the buckets of a history, as run_history does.
const maxHistoryIntervals = 500

// historyState is Prefect's HistoryResponseState; durations are seconds.
type historyState struct {
	StateType            o.StateType `json:"state_type"`
	StateName            string      `json:"state_name"`
	CountRuns            int         `json:"count_runs"`
	SumEstimatedRunTime  float64     `json:"sum_estimated_run_time"`
	SumEstimatedLateness float64     `json:"sum_estimated_lateness"`
}

// historyInterval is Prefect's HistoryResponse.
type historyInterval struct {
	IntervalStart types.DateTime  `json:"interval_start"`
	IntervalEnd   types.DateTime  `json:"interval_end"`
	States        []*historyState `json:"states"`
}

// historyQuery is the body of POST /{flow,task}_runs/history.
type historyQuery struct {
	start, end *types.DateTime
	interval   *float64
}

// historyKind says which runs a history counts and which filters it takes.
type historyKind struct {
	model      any // (*FlowRun)(nil) or (*TaskRun)(nil)
	table, own string
	// keys are the body's filter keys; related, the registry keys they map
	// to (the history's "work_queues" is the registry's "work_pool_queues").
	keys, related []string
}

var (
	flowRunHistory = historyKind{model: (*FlowRun)(nil), table: "flow_run", own: "flow_runs",
		keys:    []string{"flows", "flow_runs", "task_runs", "deployments", "work_pools", "work_queues"},
		related: []string{"flows", "task_runs", "deployments", "work_pools", "work_pool_queues"}}
	taskRunHistory = historyKind{model: (*TaskRun)(nil), table: "task_run", own: "task_runs",
		keys:    []string{"flows", "flow_runs", "task_runs", "deployments"},
		related: []string{"flows", "flow_runs", "deployments"}}
)

func (h *handlers) history(kind historyKind) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var q historyQuery
		fs, err := decodeWithFilters(r, kind.keys, api.Params{
			"history_start": &q.start, "history_end": &q.end, "history_interval_seconds": &q.interval})
		if err != nil {
			return err
		}
		if errs := missing([]string{"history_start", "history_end", "history_interval_seconds"},
			q.start != nil, q.end != nil, q.interval != nil); errs != nil {
			return invalid(r, errs)
		}
		if *q.interval < 1 {
			return &api.Error{Status: http.StatusUnprocessableEntity, Detail: "History interval must not be less than 1 second."}
		}
		if v, ok := fs["work_queues"]; ok {
			fs["work_pool_queues"] = v
		}
		out, err := h.repo.history(r.Context(), kind, fs, q.start.Time, q.end.Time, time.Duration(*q.interval*float64(time.Second)))
		if err != nil {
			return withKeptBody(r, err)
		}
		return api.WriteJSON(w, http.StatusOK, out)
	}
}

// history counts the runs whose expected start time falls in each interval
// from start to end, by state, in one query.
func (r *repo) history(ctx context.Context, kind historyKind, fs api.Filters, start, end time.Time, step time.Duration) ([]historyInterval, error) {
	out := []historyInterval{}
	elapsed := end.Sub(start)
	if elapsed <= 0 {
		return out, nil
	}
	count := min(int(math.Ceil(float64(elapsed)/float64(step))), maxHistoryIntervals)
	queryEnd := start.Add(time.Duration(count) * step)
	rows := []runColumns{}
	q := r.db.Read.NewSelect().Model(kind.model).
		Column("expected_start_time", "start_time", "state_type", "state_name", "state_timestamp", "total_run_time").
		Where("?TableAlias.expected_start_time >= ? AND ?TableAlias.expected_start_time < ?", types.From(start), types.From(queryEnd))
	q, err := r.filters.Apply(q, kind.table, kind.own, kind.related, fs)
	if err != nil {
		return nil, err
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read %s history: %w", kind.table, db.Translate(err))
	}
	for i := 0; i < count; i++ {
		out = append(out, historyInterval{IntervalStart: types.From(start.Add(time.Duration(i) * step)),
			IntervalEnd: types.From(start.Add(time.Duration(i+1) * step)), States: []*historyState{}})
	}
	now := clock()
	type key struct {
		bucket     int
		typ, named string
	}
	byKey := map[key]*historyState{}
	for i := range rows {
		run := &rows[i]
		if run.StateType == nil || run.ExpectedStartTime == nil {
			continue
		}
		run.estimate(now)
		bucket := int(run.ExpectedStartTime.Sub(start) / step)
		if bucket < 0 || bucket >= count {
			continue
		}
		name := ""
		if run.StateName != nil {
			name = *run.StateName
		}
		k := key{bucket, string(*run.StateType), name}
		s := byKey[k]
		if s == nil {
			s = &historyState{StateType: *run.StateType, StateName: name}
			byKey[k] = s
			out[bucket].States = append(out[bucket].States, s)
		}
		s.CountRuns++
		s.SumEstimatedRunTime += max(0, run.EstimatedRunTime)
		s.SumEstimatedLateness += max(0, run.EstimatedStartTimeDelta)
	}
	for _, iv := range out {
		sort.Slice(iv.States, func(a, b int) bool {
			if iv.States[a].StateType != iv.States[b].StateType {
				return iv.States[a].StateType < iv.States[b].StateType
			}
			return iv.States[a].StateName < iv.States[b].StateName
		})
	}
	return out, nil
}

// lateness is POST /flow_runs/lateness: the average estimated start time
// delta of the matching flow runs in seconds, or null when none match.
func (h *handlers) lateness(w http.ResponseWriter, r *http.Request) error {
	fs, err := decodeWithFilters(r, []string{"flows", "flow_runs", "task_runs", "deployments", "work_pools", "work_pool_queues"}, nil)
	if err != nil {
		return err
	}
	avg, err := h.repo.lateness(r.Context(), fs)
	if err != nil {
		return withKeptBody(r, err)
	}
	return api.WriteJSON(w, http.StatusOK, avg)
}

func (r *repo) lateness(ctx context.Context, fs api.Filters) (*float64, error) {
	rows := []runColumns{}
	q := r.db.Read.NewSelect().Model((*FlowRun)(nil)).Column("expected_start_time", "start_time", "state_type")
	q, err := r.filters.Apply(q, "flow_run", "flow_runs", flowRunRelated, fs)
	if err != nil {
		return nil, err
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read flow run lateness: %w", db.Translate(err))
	}
	if len(rows) == 0 {
		return nil, nil
	}
	now, sum := clock(), 0.0
	for i := range rows {
		rows[i].estimate(now)
		sum += rows[i].EstimatedStartTimeDelta
	}
	avg := sum / float64(len(rows))
	return &avg, nil
}
