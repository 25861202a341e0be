package deployments

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/api"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// createFlowRun serves POST /deployments/{id}/create_flow_run (Prefect's
// create_flow_run_from_deployment).
func (h *handlers) createFlowRun(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", notFound)
	if err != nil {
		return err
	}
	var b flowRunFromDeployment
	if err := api.Decode(r, &b); err != nil {
		return err
	}
	d, err := h.deployment(r, id)
	if err != nil {
		return err
	}
	n, fail := h.prepareRun(r, d, &b)
	if fail != nil {
		return fail.err
	}
	run, inserted, err := h.runs.Create(r.Context(), n, orchestrationParams(r))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if inserted {
		status = http.StatusCreated
	}
	return api.WriteJSON(w, status, run)
}

func (h *handlers) deployment(r *http.Request, id uuid.UUID) (*Deployment, error) {
	d, err := h.repo.byID(r.Context(), id)
	if isNotFound(err) {
		return nil, api.NotFound(notFound).Wrap(err)
	}
	return d, err
}

// bulkCreateLimit is Prefect's BULK_CREATE_LIMIT.
const bulkCreateLimit = 100

// runBatch is the JSON list body of create_flow_run/bulk.
type runBatch []flowRunFromDeployment

func (b *runBatch) Validate() []api.FieldError {
	var errs []api.FieldError
	for i := range *b {
		for _, e := range (*b)[i].Validate() {
			e.Loc = append([]any{"body", i}, e.Loc[1:]...)
			errs = append(errs, e)
		}
	}
	return errs
}

// createFlowRuns serves POST /deployments/{id}/create_flow_run/bulk: each
// run is created or reported FAILED with why, as Prefect's bulk create.
func (h *handlers) createFlowRuns(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", notFound)
	if err != nil {
		return err
	}
	var body runBatch
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	if len(body) > bulkCreateLimit {
		return api.BadRequest(fmt.Sprintf("Cannot create more than %d flow runs at once.", bulkCreateLimit))
	}
	d, err := h.deployment(r, id)
	if err != nil {
		return err
	}
	type result struct {
		FlowRunID *uuid.UUID `json:"flow_run_id"`
		Status    string     `json:"status"`
		Error     *string    `json:"error"`
	}
	results := make([]result, 0, len(body))
	failed := func(msg string) { results = append(results, result{Status: "FAILED", Error: &msg}) }
	for i := range body {
		n, fail := h.prepareRun(r, d, &body[i])
		if fail != nil {
			failed(fail.bulk)
			continue
		}
		run, _, err := h.runs.Create(r.Context(), n, orchestrationParams(r))
		if err != nil {
			failed(err.Error())
			continue
		}
		runID := run.ID
		results = append(results, result{FlowRunID: &runID, Status: "CREATED"})
	}
	return api.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
}

// runFailure is why a run cannot be made: the single create's HTTP error
// and the bulk create's text.
type runFailure struct {
	err  error
	bulk string
}

// prepareRun builds the run a request asks of a deployment: parameters
// merged, hydrated and validated when the schema is enforced; the
// deployment's queue, or the named queue of its pool; tags united; labels
// with the system ones.
func (h *handlers) prepareRun(r *http.Request, d *Deployment, b *flowRunFromDeployment) (runs.NewFlowRun, *runFailure) {
	merged := map[string]any{}
	for k, v := range d.Parameters {
		merged[k] = v
	}
	for k, v := range b.Parameters {
		merged[k] = v
	}
	params, err := h.hydrate(r, merged)
	if err != nil {
		msg := fmt.Sprintf("Error hydrating flow run parameters: %v", err)
		return runs.NewFlowRun{}, &runFailure{api.BadRequest(msg).Wrap(err), err.Error()}
	}
	enforce := d.EnforceParameterSchema
	if b.EnforceParameterSchema != nil {
		enforce = *b.EnforceParameterSchema
	}
	if enforce {
		if d.ParameterOpenAPISchema == nil {
			return runs.NewFlowRun{}, &runFailure{api.Conflict("Error updating deployment: Cannot update parameters because parameter schema enforcement is enabled and the deployment does not have a valid parameter schema."),
				"Parameter schema enforcement is enabled but deployment has no valid schema."}
		}
		if err := validateParameters(params, d.ParameterOpenAPISchema); err != nil {
			return runs.NewFlowRun{}, &runFailure{api.Conflict("Error creating flow run: " + err.Error()).Wrap(err), "Parameter validation failed: " + err.Error()}
		}
	}
	if failure := h.checkRunJobVariables(r.Context(), d, b.JobVariables); failure != nil {
		return runs.NewFlowRun{}, failure
	}
	queueName, queueID := d.WorkQueueName, d.WorkQueueID
	if b.WorkQueueName != nil && *b.WorkQueueName != "" {
		queueName, queueID, err = h.queueForRun(r, d, *b.WorkQueueName)
		if err != nil {
			return runs.NewFlowRun{}, &runFailure{err, fmt.Sprintf("Cannot create flow run in work queue %s because deployment is not associated with a work pool.", *b.WorkQueueName)}
		}
	}
	state, err := b.State.toState()
	if err != nil {
		return runs.NewFlowRun{}, &runFailure{err, err.Error()}
	}
	infraDoc := b.InfrastructureDocumentID
	if infraDoc == nil {
		infraDoc = d.InfrastructureDocumentID
	}
	jobVars := b.JobVariables
	if jobVars == nil {
		jobVars = map[string]any{}
	}
	return runs.NewFlowRun{
		FlowID: d.FlowID, Name: b.Name, DeploymentID: &d.ID, DeploymentVersion: d.Version, Parameters: params,
		Context: b.Context, JobVariables: jobVars, Tags: unionTags(d.Tags, b.Tags), Labels: runLabels(d, b.Labels),
		IdempotencyKey: b.IdempotencyKey, WorkQueueID: queueID, WorkQueueName: queueName, InfrastructureDocumentID: infraDoc,
		ParentTaskRunID: b.ParentTaskRunID, EmpiricalPolicy: b.EmpiricalPolicy, CreatedBy: createdBy(r), State: state,
	}, nil
}

// toState is the requested first state, with Prefect's defaults; nil (the
// runs module's Scheduled now) when none was sent.
func (s *stateCreate) toState() (*o.State, error) {
	if s == nil {
		return nil, nil
	}
	now := types.Now()
	state := &o.State{Type: *s.Type, Timestamp: now, Message: s.Message, StateDetails: s.StateDetails}
	if s.Name != nil {
		state.Name = *s.Name
	} else {
		state.Name = state.Type.DefaultName()
	}
	if s.Data != nil {
		data, err := json.Marshal(s.Data)
		if err != nil {
			return nil, fmt.Errorf("encode state data: %w", err)
		}
		state.Data = data
	}
	if state.Type == o.Scheduled && state.StateDetails.ScheduledTime == nil {
		t := now
		state.StateDetails.ScheduledTime = &t
	}
	return state, nil
}

// orchestrationParams passes the client's API version to the rules.
func orchestrationParams(r *http.Request) map[string]any {
	p := map[string]any{}
	if v := r.Header.Get("X-Prefect-Api-Version"); v != "" {
		p["api-version"] = v
	}
	return p
}

// createdBy is Prefect's get_created_by: none without an identity, which
// only Prefect Cloud sends.
func createdBy(*http.Request) map[string]any { return nil }

// unionTags is set(deployment tags) | set(run tags), deployment's first.
func unionTags(a, b []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, list := range [][]string{a, b} {
		for _, t := range list {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// runLabels is Prefect's with_system_labels_for_deployment_flow_run.
func runLabels(d *Deployment, user map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range d.Labels {
		out[k] = v
	}
	out["prefect.flow.id"] = d.FlowID.String()
	out["prefect.deployment.id"] = d.ID.String()
	for k, v := range user {
		out[k] = v
	}
	return out
}

// scheduledFlowRuns serves POST /deployments/get_scheduled_flow_runs: the
// deployments' Scheduled runs due before scheduled_before, soonest first;
// the deployments are marked polled (READY).
func (h *handlers) scheduledFlowRuns(w http.ResponseWriter, r *http.Request) error {
	var ids *[]uuid.UUID
	var before *types.DateTime
	var limit *int
	if err := api.DecodeParams(r, api.Params{"deployment_ids": &ids, "scheduled_before": &before, "limit": &limit}); err != nil {
		return err
	}
	if ids == nil {
		return api.Invalid("missing", "Field required", nil, "deployment_ids")
	}
	n, err := api.ResolveLimit(limit, h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	runFilter := map[string]any{"state": map[string]any{"type": map[string]any{"any_": []string{"SCHEDULED"}}}}
	if before != nil {
		runFilter["next_scheduled_start_time"] = map[string]any{"before_": before}
	}
	filters, err := encodeFilters(map[string]any{"flow_runs": runFilter, "deployments": map[string]any{"id": map[string]any{"any_": *ids}}})
	if err != nil {
		return err
	}
	out, err := h.runs.List(r.Context(), filters, "NEXT_SCHEDULED_START_TIME_ASC", n)
	if err != nil {
		return err
	}
	if err := h.repo.markReady(r.Context(), *ids); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func encodeFilters(in map[string]any) (api.Filters, error) {
	out := api.Filters{}
	for k, v := range in {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s filter: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// schedule serves POST /deployments/{id}/schedule: runs between start_time
// and end_time, as the scheduler makes them, e.g. for a backfill.
func (h *handlers) schedule(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", notFound)
	if err != nil {
		return err
	}
	var start, end *types.DateTime
	var minTime *float64
	var minRuns, maxRuns *int
	if err := api.DecodeParams(r, api.Params{"start_time": &start, "end_time": &end, "min_time": &minTime,
		"min_runs": &minRuns, "max_runs": &maxRuns}); err != nil {
		return err
	}
	req := h.sched.defaults(time.Now())
	if start != nil {
		req.start = start.Time
		req.end = start.Add(h.sched.cfg.maxScheduledTime)
	}
	if end != nil {
		req.end = end.Time
	}
	if minTime != nil {
		req.minTime = time.Duration(*minTime * float64(time.Second))
	}
	if minRuns != nil {
		req.minRuns = *minRuns
	}
	if maxRuns != nil {
		req.maxRuns = *maxRuns
	}
	if _, err := h.sched.scheduleDeployment(r.Context(), id, req); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, nil)
}
