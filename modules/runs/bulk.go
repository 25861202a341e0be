package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// bulkLimit is Prefect's BULK_OPERATION_LIMIT: the most flow runs one bulk
// request touches, and its default.
const bulkLimit = 50

// decodeBulk reads the flow_runs filter and limit (1..50) of a bulk
// request, plus the extra params.
func decodeBulk(r *http.Request, extra api.Params) (api.Filters, int, error) {
	limit := bulkLimit
	if extra == nil {
		extra = api.Params{}
	}
	extra["limit"] = &limit
	fs, err := decodeWithFilters(r, []string{"flow_runs"}, extra)
	if err != nil {
		return nil, 0, err
	}
	if errs := bounded("limit", limit, ptr(1), ptr(bulkLimit)); errs != nil {
		return nil, 0, invalid(r, errs)
	}
	return fs, limit, nil
}

// bulkDelete is POST /flow_runs/bulk_delete: deletes up to limit matching
// flow runs (their task runs and states go with them), then their logs.
func (h *featureHandlers) bulkDelete(w http.ResponseWriter, r *http.Request) error {
	fs, limit, err := decodeBulk(r, nil)
	if err != nil {
		return err
	}
	ids, err := h.repo.matchingFlowRunIDs(r.Context(), fs, limit)
	if err != nil {
		return withKeptBody(r, err)
	}
	deleted := []uuid.UUID{}
	if len(ids) > 0 {
		err = h.repo.db.NewDelete().TableExpr("flow_run").Where("id IN (?)", bun.In(ids)).Returning("id").Scan(r.Context(), &deleted)
		if err != nil {
			return fmt.Errorf("bulk delete flow runs: %w", db.Translate(err))
		}
	}
	// Logs have no foreign key to their run; Prefect deletes them afterwards
	// too, so a failure here leaves logs behind, not runs.
	if h.logs == nil {
		return api.WriteJSON(w, http.StatusOK, map[string]any{"deleted": deleted})
	}
	if err := h.logs.DeleteForFlowRuns(r.Context(), deleted); err != nil {
		h.log.Warn("delete logs of bulk-deleted flow runs", zap.Error(err))
	}
	return api.WriteJSON(w, http.StatusOK, map[string]any{"deleted": deleted})
}

// matchingFlowRunIDs lists the ids of up to limit flow runs matching fs.
func (r *repo) matchingFlowRunIDs(ctx context.Context, fs api.Filters, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	q, err := r.filters.Apply(r.db.Read.NewSelect().TableExpr("flow_run AS flow_run").Column("flow_run.id"),
		"flow_run", "flow_runs", nil, fs)
	if err != nil {
		return nil, err
	}
	if err := q.OrderExpr("flow_run.id").Limit(int64(limit)).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("read flow runs to change: %w", db.Translate(err))
	}
	return ids, nil
}

// bulkResult is Prefect's FlowRunOrchestrationResult.
type bulkResult struct {
	FlowRunID uuid.UUID `json:"flow_run_id"`
	Status    o.Status  `json:"status"`
	State     *o.State  `json:"state"`
	Details   o.Details `json:"details"`
}

// bulkSetState is POST /flow_runs/bulk_set_state: orchestrates the state
// for each of up to limit matching flow runs, one transaction each; a run
// that fails is reported as ABORT with the reason, the others go on.
func (h *featureHandlers) bulkSetState(w http.ResponseWriter, r *http.Request) error {
	var state *stateCreate
	force := false
	fs, limit, err := decodeBulk(r, api.Params{"state": &state, "force": &force})
	if err != nil {
		return err
	}
	if state == nil {
		return invalid(r, api.Required("state", nil))
	}
	if errs := state.validate("state"); errs != nil {
		return invalid(r, errs)
	}
	ids, err := h.repo.matchingFlowRunIDs(r.Context(), fs, limit)
	if err != nil {
		return withKeptBody(r, err)
	}
	results := []bulkResult{}
	params := orchestrationParams(r)
	for _, id := range ids {
		res, err := h.repo.setState(r.Context(), o.FlowRun, id, state.toState(types.Now()), force, params)
		if err != nil {
			h.log.Info("bulk set state of a flow run failed", zap.Stringer("flow_run_id", id), zap.Error(err))
			results = append(results, bulkResult{FlowRunID: id, Status: o.Abort, Details: o.Details{Type: "abort_details", Reason: err.Error()}})
			continue
		}
		results = append(results, bulkResult{FlowRunID: id, Status: res.Status, State: res.State, Details: res.Details})
	}
	return api.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
}

// labelsBody is the body of PATCH /flow_runs/{id}/labels: the labels to
// merge into the run's.
type labelsBody map[string]any

func (b labelsBody) Validate() []api.FieldError { return api.CheckLabels("labels", b) }

// patchLabels is PATCH /flow_runs/{id}/labels.
func (h *featureHandlers) patchLabels(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	keepBody(r)
	if bodyMissing(r) {
		return invalid(r, []api.FieldError{{Type: "missing", Loc: []any{"body"}, Msg: "Field required"}})
	}
	var b labelsBody
	if err := api.Decode(r, &b); err != nil {
		return err
	}
	err = h.repo.db.Tx(r.Context(), func(ctx context.Context, tx bun.Tx) error {
		var run FlowRun
		if err := tx.NewSelect().Model(&run).Column("id", "labels").Where("id = ?", id).Scan(ctx); err != nil {
			return fmt.Errorf("read flow run labels: %w", db.Translate(err))
		}
		if run.Labels == nil {
			run.Labels = map[string]any{}
		}
		for k, v := range b {
			run.Labels[k] = v
		}
		_, err := tx.NewUpdate().Model((*FlowRun)(nil)).Set("labels = ?", jsonText(run.Labels)).Set("updated = ?", types.Now()).
			Where("id = ?", id).Exec(ctx)
		if err != nil {
			return fmt.Errorf("update flow run labels: %w", db.Translate(err))
		}
		return nil
	})
	if isNotFound(err) {
		return objectNotFound(w, fmt.Sprintf("Flow run with id %s not found", id))
	}
	if err != nil {
		return err
	}
	return api.NoContent(w)
}

// taskRunUpdate is Prefect's TaskRunUpdate: a null name is a new random one.
type taskRunUpdate struct {
	Name optionalName `json:"name"`
}

// optionalName tells an absent name (keep) from a null one (generate).
type optionalName struct {
	set   bool
	value *string
}

func (n *optionalName) UnmarshalJSON(b []byte) error {
	n.set = true
	return json.Unmarshal(b, &n.value)
}

// updateTaskRun applies PATCH /task_runs/{id}; false if no such run.
func (r *repo) updateTaskRun(ctx context.Context, id uuid.UUID, u taskRunUpdate) (bool, error) {
	q := r.db.NewUpdate().Model((*TaskRun)(nil)).Set("updated = ?", types.Now()).Where("id = ?", id)
	if u.Name.set {
		q = q.Set("name = ?", runName(u.Name.value))
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("update task run %s: %w", id, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
