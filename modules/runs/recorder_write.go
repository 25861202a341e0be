package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// taskRunRecord is one event's task run and state (Prefect's
// task_run_from_event): the run as the client saw it, the columns its
// payload sets, and the validated state, whose id is the event's id.
type taskRunRecord struct {
	run   TaskRun
	cols  []string
	state stateRow
}

// payloadColumns are the task run fields a client event may carry, by
// column; true marks the nullable ones, which an explicit null clears.
var payloadColumns = map[string]bool{
	"name": false, "task_key": false, "dynamic_key": false, "cache_key": true, "cache_expiration": true,
	"task_version": true, "flow_run_run_count": false, "empirical_policy": false, "task_inputs": false,
	"tags": false, "labels": true, "run_count": false, "expected_start_time": true,
	"next_scheduled_start_time": true, "start_time": true, "end_time": true, "total_run_time": false,
}

var errNotRecordable = errors.New("not a recordable task run event")

// decodeTaskRunEvent reads a broker message; nil (and no error) for an event
// the recorder ignores: not a task-run event, or not from a client.
func decodeTaskRunEvent(data []byte) (*taskRunRecord, error) {
	var e events.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if !strings.HasPrefix(e.Event, "prefect.task-run") {
		return nil, nil
	}
	if v, _ := e.Resource.Get("prefect.orchestration"); v != "client" {
		return nil, nil
	}
	runID, ok := objectID(e.Resource.ID(), "prefect.task-run.")
	if !ok {
		return nil, fmt.Errorf("event %s: resource %q: %w", e.ID, e.Resource.ID(), errNotRecordable)
	}
	var flowRunID *uuid.UUID
	for _, rel := range e.Related {
		if rel.Role() != "flow-run" {
			continue
		}
		if id, ok := objectID(rel.ID(), "prefect.flow-run."); ok {
			flowRunID = &id
		}
		break
	}
	var p struct {
		ValidatedState *struct {
			Type         o.StateType     `json:"type"`
			Name         *string         `json:"name"`
			Message      *string         `json:"message"`
			StateDetails o.StateDetails  `json:"state_details"`
			Data         json.RawMessage `json:"data"`
		} `json:"validated_state"`
		TaskRun map[string]json.RawMessage `json:"task_run"`
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return nil, fmt.Errorf("event %s: decode payload: %w", e.ID, err)
	}
	vs := p.ValidatedState
	if vs == nil || !vs.Type.Valid() || p.TaskRun == nil {
		return nil, fmt.Errorf("event %s: payload without a valid state and task run: %w", e.ID, errNotRecordable)
	}
	rec := &taskRunRecord{}
	// The task run: the payload's fields, over the defaults of a new row.
	rec.run.Tags, rec.run.TaskInputs = []string{}, map[string]any{}
	raw, err := json.Marshal(p.TaskRun)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &rec.run); err != nil {
		return nil, fmt.Errorf("event %s: decode task run: %w", e.ID, err)
	}
	for col, nullable := range payloadColumns {
		v, ok := p.TaskRun[col]
		if ok && (nullable || string(v) != "null") {
			rec.cols = append(rec.cols, col)
		}
	}
	if rec.run.Tags == nil {
		rec.run.Tags = []string{}
	}
	if rec.run.TaskInputs == nil {
		rec.run.TaskInputs = map[string]any{}
	}
	if _, ok := p.TaskRun["task_key"]; !ok {
		return nil, fmt.Errorf("event %s: task run without a task_key: %w", e.ID, errNotRecordable)
	}
	if _, ok := p.TaskRun["dynamic_key"]; !ok {
		return nil, fmt.Errorf("event %s: task run without a dynamic_key: %w", e.ID, errNotRecordable)
	}
	rec.run.ID, rec.run.FlowRunID = runID, flowRunID

	// The state: the validated state, with the event's id and time.
	name := vs.Type.DefaultName()
	if vs.Name != nil {
		name = *vs.Name
	}
	details := vs.StateDetails
	details.TaskRunID, details.FlowRunID = &runID, flowRunID
	result := rawJSON(vs.Data)
	if string(vs.Data) == "null" {
		result = nil
	}
	rec.state = stateRow{ID: e.ID, Type: vs.Type, Timestamp: e.Occurred, Name: name, Message: vs.Message,
		StateDetails: details, Data: result}
	setRunState(&rec.run.runColumns, rec.state.state())
	return rec, nil
}

// objectID is the id in a resource id such as prefect.task-run.<uuid>.
func objectID(resourceID, prefix string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(resourceID, prefix)
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	return id, err == nil
}

// upsertTaskRun upserts the run of one event on its own (Prefect's
// _record_bulk_task_run_events for one event) and returns the id of the
// row it went into. The run is matched by its (flow_run_id, task_key,
// dynamic_key), else by id: a row already holding either keeps its id, and
// its columns are replaced only when this state is newer than its current
// one. The batch path (recorder_batch.go) falls back on it when a row it
// did not see appears.
func upsertTaskRun(ctx context.Context, tx bun.IDB, rec *taskRunRecord, now types.DateTime) (uuid.UUID, error) {
	for attempt := 0; ; attempt++ {
		id, found, err := canonicalTaskRun(ctx, tx, &rec.run)
		if err != nil {
			return uuid.Nil, err
		}
		if found {
			return id, updateTaskRun(ctx, tx, rec, id, now)
		}
		inserted, err := insertTaskRun(ctx, tx, rec, id, now)
		if err != nil || inserted || attempt > 0 {
			break // inserted, or a concurrent writer's row won twice: leave it
		}
	}
	id, _, err := canonicalTaskRun(ctx, tx, &rec.run)
	return id, err
}

// updateTaskRun writes the event's columns into row id if its state is
// newer than the row's.
func updateTaskRun(ctx context.Context, tx bun.IDB, rec *taskRunRecord, id uuid.UUID, now types.DateTime) error {
	run := rec.run
	run.ID, run.Updated = id, now
	cols := append([]string{"updated", "flow_run_id", "state_id", "state_type", "state_name", "state_timestamp"}, rec.cols...)
	_, err := tx.NewUpdate().Model(&run).Column(cols...).WherePK().
		Where("state_timestamp < ?", rec.state.Timestamp).Exec(ctx)
	if err != nil {
		return fmt.Errorf("update task run %s: %w", id, db.Translate(err))
	}
	return nil
}

// insertTaskRun inserts the event's run as row id unless a row with its id
// or natural key exists; inserted tells which.
func insertTaskRun(ctx context.Context, tx bun.IDB, rec *taskRunRecord, id uuid.UUID, now types.DateTime) (bool, error) {
	run := rec.run
	run.ID, run.Created, run.Updated = id, now, now
	res, err := tx.NewInsert().Model(&run).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("insert task run %s: %w", id, db.Translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert task run %s: %w", id, err)
	}
	return n == 1, nil
}

// insertTaskRunStates inserts the states of a batch in one statement; a
// state whose id (the same event, redelivered) or timestamp its run already
// has is skipped.
func insertTaskRunStates(ctx context.Context, tx bun.IDB, states []taskRunState) error {
	if len(states) == 0 {
		return nil
	}
	if _, err := tx.NewInsert().Model(&states).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("insert %d task run states: %w", len(states), db.Translate(err))
	}
	return nil
}

// newTaskRunState is the state row of an event recorded into run id.
func newTaskRunState(rec *taskRunRecord, id uuid.UUID, now types.DateTime) taskRunState {
	state := taskRunState{stateRow: rec.state, TaskRunID: id}
	state.Created, state.Updated = now, now
	state.StateDetails.TaskRunID = &id
	return state
}

// canonicalTaskRun is the id of the stored row run is recorded into: the
// one with its natural key, else the one with its id; found is false when
// neither exists.
func canonicalTaskRun(ctx context.Context, tx bun.IDB, run *TaskRun) (uuid.UUID, bool, error) {
	var rows []struct {
		ID        uuid.UUID  `bun:"id"`
		FlowRunID *uuid.UUID `bun:"flow_run_id"`
	}
	q := tx.NewSelect().Model((*TaskRun)(nil)).Column("id", "flow_run_id").Where("id = ?", run.ID)
	if run.FlowRunID != nil {
		q = q.WhereOr("flow_run_id = ? AND task_key = ? AND dynamic_key = ?", *run.FlowRunID, run.TaskKey, run.DynamicKey)
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return uuid.Nil, false, fmt.Errorf("find task run %s: %w", run.ID, db.Translate(err))
	}
	id, found := run.ID, false
	for _, r := range rows {
		if run.FlowRunID != nil && r.ID != run.ID && r.FlowRunID != nil && *r.FlowRunID == *run.FlowRunID {
			return r.ID, true, nil // the natural key's row wins, as in Prefect
		}
		found = found || r.ID == run.ID
	}
	return id, found, nil
}
