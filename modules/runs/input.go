package runs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Flow-run inputs (/flow_runs/{id}/input): the key/value store that
// pause_flow_run(wait_for_input=...) and send_input use; resume stores the
// validated run input here too.

const flowRunInputNotFound = "Flow run input not found"

// FlowRunInput is Prefect's FlowRunInput.
type FlowRunInput struct {
	bun.BaseModel `bun:"table:flow_run_input,alias:flow_run_input"`

	ID        uuid.UUID      `bun:"id,pk,type:uuid" json:"id"`
	Created   types.DateTime `bun:"created,notnull" json:"created"`
	Updated   types.DateTime `bun:"updated,notnull" json:"updated"`
	FlowRunID uuid.UUID      `bun:"flow_run_id,type:uuid,notnull" json:"flow_run_id"`
	Key       string         `bun:"key,notnull" json:"key"`
	Value     string         `bun:"value,notnull" json:"value"`
	Sender    *string        `bun:"sender" json:"sender"`
}

// inputKeyPattern is Prefect's raise_on_name_alphanumeric_dashes_only.
var inputKeyPattern = regexp.MustCompile(`^[a-z0-9-]*$`)

// insertFlowRunInput stores an input; a taken key is api.Conflict, a
// missing run api.NotFound.
func insertFlowRunInput(ctx context.Context, tx bun.IDB, in *FlowRunInput) error {
	now := types.Now()
	in.ID, in.Created, in.Updated = uuid.New(), now, now
	if _, err := tx.NewInsert().Model(in).Exec(ctx); err != nil {
		err = db.Translate(err)
		switch {
		case isAlreadyExists(err):
			return api.Conflict("A flow run input with this key already exists.").Wrap(err)
		case isForeignKey(err):
			return api.NotFound(flowRunNotFound).Wrap(err)
		}
		return fmt.Errorf("insert flow run input: %w", err)
	}
	return nil
}

func readFlowRunInput(ctx context.Context, idb bun.IDB, runID uuid.UUID, key string) (*FlowRunInput, error) {
	var in FlowRunInput
	err := idb.NewSelect().Model(&in).Where("flow_run_id = ? AND key = ?", runID, key).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read flow run input %q: %w", key, db.Translate(err))
	}
	return &in, nil
}

type inputHandlers struct{ db *db.DB }

func (h *inputHandlers) create(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", flowRunNotFound)
	if err != nil {
		return err
	}
	var key, value, sender *string
	if err := api.DecodeParams(r, api.Params{"key": &key, "value": &value, "sender": &sender}); err != nil {
		return err
	}
	var errs []api.FieldError
	if key == nil {
		errs = append(errs, api.Required("key", nil)...)
	}
	if value == nil {
		errs = append(errs, api.Required("value", nil)...)
	}
	if key != nil && !inputKeyPattern.MatchString(*key) {
		errs = append(errs, api.FieldError{Type: "value_error", Loc: []any{"body", "key"}, Input: *key,
			Msg: "Value error, key must only contain lowercase letters, numbers, and dashes", Ctx: map[string]any{"error": map[string]any{}}})
	}
	if len(errs) > 0 {
		return &api.ValidationError{Errors: errs}
	}
	in := &FlowRunInput{FlowRunID: id, Key: *key, Value: *value, Sender: sender}
	if err := insertFlowRunInput(r.Context(), h.db.DB, in); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, nil)
}

func (h *inputHandlers) filter(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", flowRunNotFound)
	if err != nil {
		return err
	}
	var prefix *string
	limit, exclude := 1, []string{}
	if err := api.DecodeParams(r, api.Params{"prefix": &prefix, "limit": &limit, "exclude_keys": &exclude}); err != nil {
		return err
	}
	if prefix == nil {
		return &api.ValidationError{Errors: api.Required("prefix", nil)}
	}
	out := []FlowRunInput{}
	q := h.db.Read.NewSelect().Model(&out).Where("flow_run_id = ?", id).
		Where("key LIKE ?", *prefix+"%").OrderExpr("created").Limit(int64(max(limit, 0)))
	if len(exclude) > 0 {
		q = q.Where("key NOT IN (?)", bun.In(exclude))
	}
	if err := q.Scan(r.Context()); err != nil {
		return fmt.Errorf("filter flow run inputs: %w", err)
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *inputHandlers) read(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", flowRunInputNotFound)
	if err != nil {
		return err
	}
	in, err := readFlowRunInput(r.Context(), h.db.Read, id, api.PathVar(r, "key"))
	if err != nil {
		return notFoundOr(err, flowRunInputNotFound)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(in.Value))
	return err
}

func (h *inputHandlers) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", flowRunInputNotFound)
	if err != nil {
		return err
	}
	res, err := h.db.NewDelete().Model((*FlowRunInput)(nil)).Where("flow_run_id = ? AND key = ?", id, api.PathVar(r, "key")).Exec(r.Context())
	if err != nil {
		return fmt.Errorf("delete flow run input: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return api.NotFound(flowRunInputNotFound)
	}
	return api.NoContent(w)
}

func (h *inputHandlers) routes() []api.Route {
	return []api.Route{
		{Method: http.MethodPost, Path: "/flow_runs/{id}/input", Handler: h.create},
		{Method: http.MethodPost, Path: "/flow_runs/{id}/input/filter", Handler: h.filter},
		{Method: http.MethodGet, Path: "/flow_runs/{id}/input/{key}", Handler: h.read},
		{Method: http.MethodDelete, Path: "/flow_runs/{id}/input/{key}", Handler: h.delete},
	}
}

func isAlreadyExists(err error) bool { return errors.Is(err, db.ErrAlreadyExists) }

func isForeignKey(err error) bool { return errors.Is(err, db.ErrForeignKey) }
