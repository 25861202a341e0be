package runs

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

const (
	flowRunNotFound = "Flow run not found"
	taskRunNotFound = "Task run not found"
)

// Prefect's FlowRunSort and TaskRunSort, with their SQL; the id breaks ties.
var (
	flowRunSorts = map[string]string{
		"ID_DESC":                       "flow_run.id DESC",
		"START_TIME_ASC":                "COALESCE(flow_run.start_time, flow_run.expected_start_time) ASC, flow_run.id",
		"START_TIME_DESC":               "COALESCE(flow_run.start_time, flow_run.expected_start_time) DESC, flow_run.id",
		"EXPECTED_START_TIME_ASC":       "flow_run.expected_start_time ASC, flow_run.id",
		"EXPECTED_START_TIME_DESC":      "flow_run.expected_start_time DESC, flow_run.id",
		"NAME_ASC":                      "flow_run.name ASC, flow_run.id",
		"NAME_DESC":                     "flow_run.name DESC, flow_run.id",
		"NEXT_SCHEDULED_START_TIME_ASC": "flow_run.next_scheduled_start_time ASC, flow_run.id",
		"END_TIME_DESC":                 "flow_run.end_time DESC, flow_run.id",
	}
	flowRunSortNames = []string{"ID_DESC", "START_TIME_ASC", "START_TIME_DESC", "EXPECTED_START_TIME_ASC",
		"EXPECTED_START_TIME_DESC", "NAME_ASC", "NAME_DESC", "NEXT_SCHEDULED_START_TIME_ASC", "END_TIME_DESC"}
	taskRunSorts = map[string]string{
		"ID_DESC":                       "task_run.id DESC",
		"EXPECTED_START_TIME_ASC":       "task_run.expected_start_time ASC, task_run.id",
		"EXPECTED_START_TIME_DESC":      "task_run.expected_start_time DESC, task_run.id",
		"NAME_ASC":                      "task_run.name ASC, task_run.id",
		"NAME_DESC":                     "task_run.name DESC, task_run.id",
		"NEXT_SCHEDULED_START_TIME_ASC": "task_run.next_scheduled_start_time ASC, task_run.id",
		"END_TIME_DESC":                 "task_run.end_time DESC, task_run.id",
	}
	taskRunSortNames = []string{"ID_DESC", "EXPECTED_START_TIME_ASC", "EXPECTED_START_TIME_DESC", "NAME_ASC",
		"NAME_DESC", "NEXT_SCHEDULED_START_TIME_ASC", "END_TIME_DESC"}
)

type handlers struct {
	repo       *repo
	cfg        config.API
	background *background
}

func newRoutes(r *repo, cfg config.API, b *background) api.Routes {
	h := &handlers{repo: r, cfg: cfg, background: b}
	flowRuns := &api.Lister[FlowRun]{DefaultLimit: cfg.DefaultLimit, Sorts: flowRunSortNames, DefaultSort: "ID_DESC",
		Keys: flowRunKeys, List: r.listFlowRuns, Count: r.countFlowRuns}
	taskRuns := &api.Lister[TaskRun]{DefaultLimit: cfg.DefaultLimit, Sorts: taskRunSortNames, DefaultSort: "ID_DESC",
		Keys: taskRunKeys, List: r.listTaskRuns, Count: r.countTaskRuns}
	deleteRun := func(model any) func(ctx context.Context, id uuid.UUID) (bool, error) {
		return func(ctx context.Context, id uuid.UUID) (bool, error) { return r.deleteRun(ctx, model, id) }
	}
	routes := api.Routes{Module: "runs", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/flow_runs", Handler: h.createFlowRun},
		{Method: http.MethodPost, Path: "/flow_runs/filter", Handler: flowRuns.Filter},
		{Method: http.MethodPost, Path: "/flow_runs/count", Handler: flowRuns.CountHandler},
		{Method: http.MethodPost, Path: "/flow_runs/paginate", Handler: flowRuns.Paginate},
		{Method: http.MethodGet, Path: "/flow_runs/{id}", Handler: api.ReadByID(flowRunNotFound, r.flowRun)},
		{Method: http.MethodPatch, Path: "/flow_runs/{id}", Handler: api.PatchByID(flowRunNotFound, r.updateFlowRun)},
		{Method: http.MethodDelete, Path: "/flow_runs/{id}", Handler: api.DeleteByID(flowRunNotFound, deleteRun((*FlowRun)(nil)))},
		{Method: http.MethodPost, Path: "/flow_runs/{id}/set_state", Handler: h.setState(o.FlowRun, flowRunNotFound)},
		{Method: http.MethodGet, Path: "/flow_run_states", Handler: h.listStates(o.FlowRun, "flow_run_id")},
		{Method: http.MethodGet, Path: "/flow_run_states/{id}", Handler: h.readState(o.FlowRun, "Flow run state not found")},
		{Method: http.MethodPost, Path: "/task_runs", Handler: h.createTaskRun},
		{Method: http.MethodPost, Path: "/task_runs/filter", Handler: taskRuns.Filter},
		{Method: http.MethodPost, Path: "/task_runs/count", Handler: taskRuns.CountHandler},
		{Method: http.MethodPost, Path: "/task_runs/paginate", Handler: taskRuns.Paginate},
		{Method: http.MethodGet, Path: "/task_runs/{id}", Handler: api.ReadByID(taskRunNotFound, r.taskRun)},
		{Method: http.MethodDelete, Path: "/task_runs/{id}", Handler: api.DeleteByID(taskRunNotFound, deleteRun((*TaskRun)(nil)))},
		{Method: http.MethodPost, Path: "/task_runs/{id}/set_state", Handler: h.setState(o.TaskRun, taskRunNotFound)},
		{Method: http.MethodGet, Path: "/task_run_states", Handler: h.listStates(o.TaskRun, "task_run_id")},
		{Method: http.MethodGet, Path: "/task_run_states/{id}", Handler: h.readState(o.TaskRun, "Task run state not found")},
	}}
	routes.Routes = append(routes.Routes, h.lifecycleRoutes()...)
	return routes
}

// orchestrationParams passes the client's API version to the rules.
func orchestrationParams(r *http.Request) map[string]any {
	p := map[string]any{}
	if v := r.Header.Get("X-Prefect-Api-Version"); v != "" {
		p["api-version"] = v
	}
	return p
}

func (h *handlers) createFlowRun(w http.ResponseWriter, r *http.Request) error {
	var b flowRunCreate
	if err := api.Decode(r, &b); err != nil {
		return err
	}
	now := types.Now()
	run := &FlowRun{FlowID: *b.FlowID, FlowVersion: b.FlowVersion, Parameters: orEmpty(b.Parameters), Context: orEmpty(b.Context),
		ParentTaskRunID: b.ParentTaskRunID, InfrastructureDocumentID: b.InfrastructureDocumentID, IdempotencyKey: b.IdempotencyKey,
		WorkQueueName: b.WorkQueueName, JobVariables: orEmpty(b.JobVariables), DeploymentID: b.DeploymentID}
	run.ID, run.Created, run.Updated, run.Name, run.Tags = uuid.New(), now, now, runName(b.Name), b.Tags
	if run.Tags == nil {
		run.Tags = []string{}
	}
	run.Labels = map[string]any{}
	for k, v := range b.Labels {
		run.Labels[k] = v
	}
	run.Labels["prefect.flow.id"] = run.FlowID.String()
	if b.EmpiricalPolicy != nil {
		run.EmpiricalPolicy = *b.EmpiricalPolicy
	}
	if run.EmpiricalPolicy.PauseKeys == nil {
		run.EmpiricalPolicy.PauseKeys = []string{}
	}
	if err := h.repo.resolveWorkPool(r.Context(), run, b.WorkPoolName); err != nil {
		return err
	}
	state := &o.State{ID: newStateID(), Type: o.Pending, Name: "Pending", Timestamp: now}
	if b.State != nil {
		state = b.State.toState(now)
	}
	stored, inserted, err := h.repo.createFlowRun(r.Context(), run, state, orchestrationParams(r))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if inserted {
		status = http.StatusCreated
	}
	return api.WriteJSON(w, status, stored)
}

func (h *handlers) setState(kind o.Kind, notFound string) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := api.PathUUID(r, "id", notFound)
		if err != nil {
			return err
		}
		var b setStateBody
		if err := api.Decode(r, &b); err != nil {
			return err
		}
		now := types.Now()
		res, err := h.repo.setState(r.Context(), kind, id, b.State.toState(now), b.Force, orchestrationParams(r))
		if err != nil {
			return notFoundOr(err, notFound)
		}
		status := http.StatusOK
		if res.State != nil && !res.State.Timestamp.Before(now.Time) {
			status = http.StatusCreated
		}
		return api.WriteJSON(w, status, res)
	}
}

func (h *handlers) listStates(kind o.Kind, param string) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		raw := r.URL.Query().Get(param)
		id, err := uuid.Parse(raw)
		if err != nil {
			return &api.ValidationError{Errors: []api.FieldError{{Type: "uuid_parsing", Loc: []any{"query", param},
				Msg: "Input should be a valid UUID", Input: raw}}}
		}
		states, err := h.repo.states(r.Context(), kind, id)
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, states)
	}
}

func (h *handlers) readState(kind o.Kind, notFound string) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := api.PathUUID(r, "id", notFound)
		if err != nil {
			return err
		}
		s, err := h.repo.state(r.Context(), kind, id)
		if err != nil {
			return notFoundOr(err, notFound)
		}
		return api.WriteJSON(w, http.StatusOK, s)
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// notFoundOr maps a missing row to Prefect's 404 detail.
func notFoundOr(err error, detail string) error {
	if isNotFound(err) {
		return api.NotFound(detail).Wrap(err)
	}
	return err
}
