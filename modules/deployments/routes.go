package deployments

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/types"
)

const notFound = "Deployment not found"

// Prefect's DeploymentSort values, in its order, with their SQL; the id
// breaks ties so that pages never overlap.
var (
	sortNames = []string{"CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"}
	sortSQL   = map[string]string{
		"CREATED_DESC": "deployment.created DESC, deployment.id",
		"UPDATED_DESC": "deployment.updated DESC, deployment.id",
		"NAME_ASC":     "deployment.name ASC, deployment.id",
		"NAME_DESC":    "deployment.name DESC, deployment.id",
	}
)

type handlers struct {
	repo  *repo
	runs  *runs.FlowRunCreator
	sched *scheduler
	cfg   config.API
	list  *api.Lister[*Deployment]
}

func newRoutes(r *repo, fr *runs.FlowRunCreator, s *scheduler, cfg config.API) api.Routes {
	h := &handlers{repo: r, runs: fr, sched: s, cfg: cfg, list: &api.Lister[*Deployment]{
		DefaultLimit: cfg.DefaultLimit, Sorts: sortNames, DefaultSort: "NAME_ASC",
		Keys: append([]string{"deployments"}, relatedKeys...), List: r.list, Count: r.count,
	}}
	return api.Routes{Module: "deployments", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/deployments", Handler: h.create},
		{Method: http.MethodPost, Path: "/deployments/filter", Handler: h.list.Filter},
		{Method: http.MethodPost, Path: "/deployments/count", Handler: h.list.CountHandler},
		{Method: http.MethodPost, Path: "/deployments/paginate", Handler: h.list.Paginate},
		{Method: http.MethodPost, Path: "/deployments/bulk_delete", Handler: api.BulkDelete("deployments", r.matchIDs, r.deleteByIDs)},
		{Method: http.MethodPost, Path: "/deployments/get_scheduled_flow_runs", Handler: h.scheduledFlowRuns},
		{Method: http.MethodGet, Path: "/deployments/name/{flow}/{name}", Handler: h.readByName},
		{Method: http.MethodGet, Path: "/deployments/{id}", Handler: api.ReadByID(notFound, r.byID)},
		{Method: http.MethodPatch, Path: "/deployments/{id}", Handler: h.update},
		{Method: http.MethodDelete, Path: "/deployments/{id}", Handler: api.DeleteByID(notFound, r.delete)},
		{Method: http.MethodPost, Path: "/deployments/{id}/pause_deployment", Handler: h.setPaused(true)},
		{Method: http.MethodPost, Path: "/deployments/{id}/resume_deployment", Handler: h.setPaused(false)},
		{Method: http.MethodPost, Path: "/deployments/{id}/create_flow_run", Handler: h.createFlowRun},
		{Method: http.MethodPost, Path: "/deployments/{id}/create_flow_run/bulk", Handler: h.createFlowRuns},
		{Method: http.MethodPost, Path: "/deployments/{id}/schedule", Handler: h.schedule},
		{Method: http.MethodGet, Path: "/deployments/{id}/work_queue_check", Handler: h.workQueueCheck},
		{Method: http.MethodGet, Path: "/deployments/{id}/schedules", Handler: h.readSchedules},
		{Method: http.MethodPost, Path: "/deployments/{id}/schedules", Handler: h.createSchedules},
		{Method: http.MethodPatch, Path: "/deployments/{id}/schedules/{schedule_id}", Handler: h.updateSchedule},
		{Method: http.MethodDelete, Path: "/deployments/{id}/schedules/{schedule_id}", Handler: h.deleteSchedule},
		{Method: http.MethodPost, Path: "/ui/flows/count-deployments", Handler: h.countByFlow},
	}}
}

// columns lists the columns a body sets: those of its fields that were sent.
type columns []string

func (c *columns) add(sent bool, col string) {
	if !sent {
		return
	}
	for _, have := range *c {
		if have == col {
			return
		}
	}
	*c = append(*c, col)
}

// deref is the value a pointer holds, the zero value for none.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var b deploymentCreate
	if err := api.Decode(r, &b); err != nil {
		return err
	}
	now := types.Now()
	d := &Deployment{ID: uuid.New(), Created: now, Updated: now, Name: *b.Name, FlowID: *b.FlowID,
		Version: b.Version, Description: b.Description, ConcurrencyOptions: b.ConcurrencyOptions,
		ConcurrencyLimitID: b.GlobalConcurrencyLimitID, JobVariables: orEmpty(b.JobVariables), Parameters: orEmpty(b.Parameters),
		Tags: b.Tags, WorkQueueName: b.WorkQueueName, ParameterOpenAPISchema: map[string]any{}, Path: b.Path,
		PullSteps: []map[string]any{}, Entrypoint: b.Entrypoint, StorageDocumentID: b.StorageDocumentID,
		InfrastructureDocumentID: b.InfrastructureDocumentID, Status: statusNotReady, EnforceParameterSchema: true}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	// Absent, these take the table's defaults ({} and []); null is stored.
	if b.ParameterOpenAPISchema.Set {
		d.ParameterOpenAPISchema = deref(b.ParameterOpenAPISchema.Value)
	}
	if b.PullSteps.Set {
		d.PullSteps = deref(b.PullSteps.Value)
	}
	if b.Paused != nil {
		d.Paused = *b.Paused
	}
	if b.EnforceParameterSchema != nil {
		d.EnforceParameterSchema = *b.EnforceParameterSchema
	}
	// Prefect's with_system_labels_for_deployment: the flow's labels, the
	// flow id, then the labels sent.
	labels, err := h.repo.flowLabels(r.Context(), d.FlowID)
	if err != nil {
		return err
	}
	labels["prefect.flow.id"] = d.FlowID.String()
	for k, v := range b.Labels {
		labels[k] = v
	}
	d.Labels = labels
	var set columns
	set.add(b.Version != nil, "version")
	set.add(b.Description != nil, "description")
	set.add(b.Paused != nil, "paused")
	set.add(b.ConcurrencyOptions != nil, "concurrency_options")
	set.add(b.GlobalConcurrencyLimitID != nil, "concurrency_limit_id")
	set.add(b.EnforceParameterSchema != nil, "enforce_parameter_schema")
	set.add(b.ParameterOpenAPISchema.Set, "parameter_openapi_schema")
	set.add(b.Parameters != nil, "parameters")
	set.add(b.Tags != nil, "tags")
	set.add(true, "labels")
	set.add(b.PullSteps.Set, "pull_steps")
	set.add(b.WorkQueueName != nil, "work_queue_name")
	set.add(b.StorageDocumentID != nil, "storage_document_id")
	set.add(b.InfrastructureDocumentID != nil, "infrastructure_document_id")
	set.add(b.Path != nil, "path")
	set.add(b.Entrypoint != nil, "entrypoint")
	set.add(b.JobVariables != nil, "job_variables")
	if err := h.checkCreateJobVariables(r.Context(), b.WorkPoolName, b.JobVariables); err != nil {
		return err
	}
	if err := h.checkGlobalLimit(r, b.GlobalConcurrencyLimitID); err != nil {
		return err
	}
	id, inserted, err := h.repo.upsert(r.Context(), d, set, newQueueTarget(b.WorkPoolName, b.WorkQueueName), b.ConcurrencyLimit, b.Schedules)
	if err != nil {
		return err
	}
	stored, err := h.repo.byID(r.Context(), id)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if inserted {
		status = http.StatusCreated
	}
	return api.WriteJSON(w, status, stored)
}

// checkGlobalLimit answers 404 for a global_concurrency_limit_id that names
// no limit, as Prefect's create does.
func (h *handlers) checkGlobalLimit(r *http.Request, id *uuid.UUID) error {
	if id == nil {
		return nil
	}
	found, err := h.repo.limits.Limits(r.Context(), []uuid.UUID{*id})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return api.NotFound("Concurrency limit not found")
	}
	return nil
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", notFound)
	if err != nil {
		return err
	}
	var b deploymentUpdate
	if err := api.Decode(r, &b); err != nil {
		return err
	}
	existing, err := h.repo.byID(r.Context(), id)
	if isNotFound(err) {
		return api.NotFound(notFound).Wrap(err)
	}
	if err != nil {
		return err
	}
	schedules, err := planSchedules(existing.Schedules, b.Schedules)
	if err != nil {
		return err
	}
	if err := h.checkUpdateJobVariables(r.Context(), b.WorkPoolName.Value, b.JobVariables); err != nil {
		return err
	}
	params, err := h.updateParameters(r, existing, &b)
	if err != nil {
		return err
	}
	d := &Deployment{Updated: types.Now(), Version: b.Version, Description: b.Description,
		ConcurrencyOptions: b.ConcurrencyOptions, ConcurrencyLimitID: b.GlobalConcurrencyLimitID, JobVariables: b.JobVariables,
		Parameters: params, ParameterOpenAPISchema: b.ParameterOpenAPISchema, Tags: b.Tags, WorkQueueName: b.WorkQueueName.Value,
		Path: b.Path, PullSteps: b.PullSteps, Entrypoint: b.Entrypoint, StorageDocumentID: b.StorageDocumentID,
		InfrastructureDocumentID: b.InfrastructureDocumentID}
	if b.Paused != nil {
		d.Paused = *b.Paused
	}
	if b.EnforceParameterSchema != nil {
		d.EnforceParameterSchema = *b.EnforceParameterSchema
	}
	var set columns
	set.add(b.Version != nil, "version")
	set.add(b.Description != nil, "description")
	set.add(b.Paused != nil, "paused")
	set.add(b.ConcurrencyOptions != nil, "concurrency_options")
	set.add(b.GlobalConcurrencyLimitID != nil, "concurrency_limit_id")
	set.add(b.Parameters != nil, "parameters")
	set.add(b.ParameterOpenAPISchema != nil, "parameter_openapi_schema")
	set.add(b.Tags != nil, "tags")
	set.add(b.WorkQueueName.Set, "work_queue_name")
	set.add(b.Path != nil, "path")
	set.add(b.JobVariables != nil, "job_variables")
	set.add(b.PullSteps != nil, "pull_steps")
	set.add(b.Entrypoint != nil, "entrypoint")
	set.add(b.StorageDocumentID != nil, "storage_document_id")
	set.add(b.InfrastructureDocumentID != nil, "infrastructure_document_id")
	set.add(b.EnforceParameterSchema != nil, "enforce_parameter_schema")
	target := newQueueTarget(b.WorkPoolName.Value, b.WorkQueueName.Value)
	if b.WorkPoolName.Set && b.WorkPoolName.Value == nil {
		// An explicit null pool takes the deployment off its work queue (e.g.
		// switching to serve); a queue name sent with it is only stored.
		target = nil
		set.add(true, "work_queue_id")
	}
	ok, err := h.repo.update(r.Context(), id, d, set, target, b.ConcurrencyLimit, schedules)
	if err != nil {
		return err
	}
	if !ok {
		return api.NotFound(notFound)
	}
	return api.NoContent(w)
}

// workQueueCheck serves the deprecated GET /deployments/{id}/work_queue_check:
// the work queues whose legacy filter would pick up the deployment's runs.
func (h *handlers) workQueueCheck(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	d, err := h.repo.byID(r.Context(), id)
	if isNotFound(err) {
		return api.NotFound("Deployment not found").Wrap(err)
	}
	if err != nil {
		return err
	}
	queues, err := h.repo.pools.QueuesFor(r.Context(), h.repo.db.Read, id, d.Tags)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, queues)
}

func (h *handlers) readByName(w http.ResponseWriter, r *http.Request) error {
	d, err := h.repo.byName(r.Context(), api.PathVar(r, "flow"), api.PathVar(r, "name"))
	if isNotFound(err) {
		return api.NotFound(notFound).Wrap(err)
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, d)
}

func (h *handlers) setPaused(paused bool) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := api.PathUUID(r, "id", notFound)
		if err != nil {
			return err
		}
		ok, err := h.repo.setPaused(r.Context(), id, paused)
		if err != nil {
			return err
		}
		if !ok {
			return api.NotFound(notFound)
		}
		return api.WriteJSON(w, http.StatusOK, nil)
	}
}

// matchIDs lists the ids of the deployments a bulk operation's filter
// selects, by name.
func (r *repo) matchIDs(ctx context.Context, f api.Filters, limit int) ([]uuid.UUID, error) {
	matched, err := r.list(ctx, f, "NAME_ASC", limit, 0)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(matched))
	for i, d := range matched {
		ids[i] = d.ID
	}
	return ids, nil
}

// countByFlow serves /ui/flows/count-deployments: {flow id: count} for the
// given flows, zero for those without deployments.
func (h *handlers) countByFlow(w http.ResponseWriter, r *http.Request) error {
	var ids []uuid.UUID
	if err := api.DecodeParams(r, api.Params{"flow_ids": &ids}); err != nil {
		return err
	}
	counts, err := h.repo.countByFlow(r.Context(), ids)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, counts)
}

func (r *repo) countByFlow(ctx context.Context, ids []uuid.UUID) (map[string]int, error) {
	out := make(map[string]int, len(ids))
	for _, id := range ids {
		out[id.String()] = 0
	}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		FlowID uuid.UUID `bun:"flow_id,type:uuid"`
		N      int       `bun:"n"`
	}
	err := r.db.Read.NewSelect().Table("deployment").ColumnExpr("flow_id, COUNT(*) AS n").
		Where("flow_id IN (?)", bun.In(ids)).Group("flow_id").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		out[row.FlowID.String()] = row.N
	}
	return out, nil
}
