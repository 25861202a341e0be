package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// resumeFlowRun serves POST /flow_runs/{id}/resume (Prefect's
// resume_flow_run): a paused run goes back to Running (or, after a
// reschedule-style pause, to Scheduled "Resuming"); when the pause waits for
// input, run_input must match the schema the client stored, and is stored
// under the keyset's response key once the transition is accepted.
func (h *handlers) resumeFlowRun(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", flowRunNotFound)
	if err != nil {
		return err
	}
	var runInput map[string]any
	if err := api.DecodeParams(r, api.Params{"run_input": &runInput}); err != nil {
		return err
	}
	now := types.Now()
	var res *o.Result
	err = h.repo.tx(r.Context(), func(ctx context.Context, tx bun.Tx) error {
		res, err = h.repo.resumeInTx(ctx, tx, id, runInput, orchestrationParams(r))
		return err
	})
	if err != nil {
		return notFoundOr(err, flowRunNotFound)
	}
	status := http.StatusOK
	if res.State != nil && !res.State.Timestamp.Before(now.Time) {
		status = http.StatusCreated
	}
	return api.WriteJSON(w, status, res)
}

func (r *repo) resumeInTx(ctx context.Context, tx bun.IDB, id uuid.UUID, runInput map[string]any, params map[string]any) (*o.Result, error) {
	var run FlowRun
	if err := tx.NewSelect().Model(&run).Relation("StateRow").Where("flow_run.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read flow run %s: %w", id, db.Translate(err))
	}
	state := run.StateRow.stateOrNil()
	if state == nil || state.Type != o.Paused {
		return &o.Result{Status: o.Abort, Details: o.Details{Type: "abort_details", Reason: "Cannot resume a flow run that is not paused."}}, nil
	}
	keyset := state.StateDetails.RunInputKeyset
	reject := func(reason string) (*o.Result, error) {
		return &o.Result{State: state, Status: o.Reject, Details: o.Details{Type: "abort_details", Reason: reason}}, nil
	}
	if len(keyset) > 0 {
		if runInput == nil {
			runInput = map[string]any{}
		}
		schemaRow, err := readFlowRunInput(ctx, tx, id, keyset["schema"])
		if isNotFound(err) {
			return reject("Run input schema not found.")
		}
		if err != nil {
			return nil, err
		}
		if reason := validateRunInput(schemaRow.Value, runInput); reason != "" {
			return reject(reason)
		}
	}
	proposed := &o.State{ID: newStateID(), Type: o.Running, Name: "Running", Timestamp: types.Now()}
	if state.StateDetails.PauseReschedule {
		proposed = &o.State{ID: newStateID(), Type: o.Scheduled, Name: "Resuming", Timestamp: types.Now()}
		proposed.StateDetails.ScheduledTime = &proposed.Timestamp
	}
	res, err := r.setFlowRunState(ctx, tx, id, proposed, false, params)
	if err != nil {
		return nil, err
	}
	if len(keyset) > 0 && len(runInput) > 0 && res.Status == o.Accept {
		value, err := json.Marshal(runInput)
		if err != nil {
			return nil, fmt.Errorf("encode run input: %w", err)
		}
		if err := insertFlowRunInput(ctx, tx, &FlowRunInput{FlowRunID: id, Key: keyset["response"], Value: string(value)}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// noLoader refuses remote references, as Prefect's non-fetching registry.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: remote references are not fetched", url)
}

// validateRunInput checks run input against the stored JSON schema and
// returns Prefect's rejection reason, or "" when it is valid.
func validateRunInput(schemaJSON string, input map[string]any) string {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schemaJSON))
	if err != nil {
		return "Run input schema is not valid JSON."
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	if err := c.AddResource("run-input-schema.json", doc); err != nil {
		return "Run input schema is not valid JSON."
	}
	sch, err := c.Compile("run-input-schema.json")
	if err != nil {
		return "Reason: Validation failed. Failure reason: " + err.Error()
	}
	raw, _ := json.Marshal(input)
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		return "Reason: Validation failed. Failure reason: " + err.Error()
	}
	var verr *jsonschema.ValidationError
	if err := sch.Validate(inst); errors.As(err, &verr) {
		return "Reason: " + validationMessage(verr, inst)
	} else if err != nil {
		return "Reason: Validation failed. Failure reason: " + err.Error()
	}
	return ""
}

// validationMessage words the deepest error as Prefect's schema_tools does.
func validationMessage(e *jsonschema.ValidationError, input any) string {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	msg := "Validation failed."
	if len(e.InstanceLocation) > 0 {
		msg = fmt.Sprintf("Validation failed for field '%s'.", jsonPath(input, e.InstanceLocation))
	}
	var reason string
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		reason = fmt.Sprintf("'%s' is a required property", k.Missing[0])
	case *kind.Type:
		reason = fmt.Sprintf("%s is not of type %s", pyRepr(input, e.InstanceLocation), quoteAll(k.Want))
	default:
		reason = strings.TrimSpace(strings.TrimPrefix(e.Error(), "jsonschema validation failed with "))
	}
	return msg + " Failure reason: " + reason
}

func quoteAll(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = "'" + w + "'"
	}
	return strings.Join(q, ", ")
}

// jsonPath is jsonschema's json_path of loc without its "$.": b[0].c.
func jsonPath(input any, loc []string) string {
	var b strings.Builder
	v := input
	for _, seg := range loc {
		switch c := v.(type) {
		case []any:
			b.WriteString("[" + seg + "]")
			if n, err := strconv.Atoi(seg); err == nil && n >= 0 && n < len(c) {
				v = c[n]
			}
			continue
		case map[string]any:
			v = c[seg]
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// pyRepr is Python's repr of the JSON value at loc in input.
func pyRepr(input any, loc []string) string {
	v := input
	for _, seg := range loc {
		switch c := v.(type) {
		case map[string]any:
			v = c[seg]
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(c) {
				return "None"
			}
			v = c[n]
		}
	}
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "\\'") + "'"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// lifecycleRoutes are the pause/resume, input and background-task routes.
func (h *handlers) lifecycleRoutes() []api.Route {
	in := &inputHandlers{db: h.repo.db}
	routes := append(in.routes(), h.background.routes()...)
	return append(routes, api.Route{Method: http.MethodPost, Path: "/flow_runs/{id}/resume", Handler: h.resumeFlowRun})
}
