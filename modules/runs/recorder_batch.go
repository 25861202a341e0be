package runs

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// naturalKey is a task run's (flow_run_id, task_key, dynamic_key).
type naturalKey struct {
	flowRunID           uuid.UUID
	taskKey, dynamicKey string
}

// knownRuns are the stored task runs a batch's events go into, found with
// one query at the start of the batch and kept up to date as the batch
// inserts runs, so that each event costs one statement for its run (and the
// batch one for all states) instead of a lookup each.
type knownRuns struct {
	flowRunOf map[uuid.UUID]*uuid.UUID // by id: the row's flow_run_id
	byKey     map[naturalKey]uuid.UUID
}

// findTaskRuns reads the rows holding the ids or natural keys of a batch's
// task runs.
func findTaskRuns(ctx context.Context, tx bun.IDB, recs []*taskRunRecord) (*knownRuns, error) {
	k := &knownRuns{flowRunOf: map[uuid.UUID]*uuid.UUID{}, byKey: map[naturalKey]uuid.UUID{}}
	ids := map[uuid.UUID]bool{}
	keys := map[naturalKey]bool{}
	for _, rec := range recs {
		ids[rec.run.ID] = true
		if rec.run.FlowRunID != nil {
			keys[naturalKey{*rec.run.FlowRunID, rec.run.TaskKey, rec.run.DynamicKey}] = true
		}
	}
	idList := make([]uuid.UUID, 0, len(ids))
	for id := range ids {
		idList = append(idList, id)
	}
	q := tx.NewSelect().Model((*TaskRun)(nil)).Column("id", "flow_run_id", "task_key", "dynamic_key").
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			q = q.Where("id IN (?)", bun.In(idList))
			for key := range keys {
				q = q.WhereOr("(flow_run_id = ? AND task_key = ? AND dynamic_key = ?)", key.flowRunID, key.taskKey, key.dynamicKey)
			}
			return q
		})
	var rows []struct {
		ID         uuid.UUID  `bun:"id"`
		FlowRunID  *uuid.UUID `bun:"flow_run_id"`
		TaskKey    string     `bun:"task_key"`
		DynamicKey string     `bun:"dynamic_key"`
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("find the batch's task runs: %w", db.Translate(err))
	}
	for _, r := range rows {
		k.add(r.ID, r.FlowRunID, r.TaskKey, r.DynamicKey)
	}
	return k, nil
}

func (k *knownRuns) add(id uuid.UUID, flowRunID *uuid.UUID, taskKey, dynamicKey string) {
	k.flowRunOf[id] = flowRunID
	if flowRunID != nil {
		k.byKey[naturalKey{*flowRunID, taskKey, dynamicKey}] = id
	}
}

// canonical is canonicalTaskRun over the known rows: the row with the run's
// natural key wins, else the row with its id; found is false for neither.
func (k *knownRuns) canonical(run *TaskRun) (uuid.UUID, bool) {
	if run.FlowRunID != nil {
		if id, ok := k.byKey[naturalKey{*run.FlowRunID, run.TaskKey, run.DynamicKey}]; ok {
			return id, true
		}
	}
	_, found := k.flowRunOf[run.ID]
	return run.ID, found
}

// record upserts the run of one event of the batch and returns its row's id.
func (k *knownRuns) record(ctx context.Context, tx bun.IDB, rec *taskRunRecord, now types.DateTime) (uuid.UUID, error) {
	if id, found := k.canonical(&rec.run); found {
		return id, updateTaskRun(ctx, tx, rec, id, now)
	}
	inserted, err := insertTaskRun(ctx, tx, rec, rec.run.ID, now)
	if err != nil {
		return uuid.Nil, err
	}
	id := rec.run.ID
	if !inserted {
		// A row this batch did not see (another writer's): the careful path.
		if id, err = upsertTaskRun(ctx, tx, rec, now); err != nil {
			return uuid.Nil, err
		}
	}
	k.add(id, rec.run.FlowRunID, rec.run.TaskKey, rec.run.DynamicKey)
	return id, nil
}

// recordBatch records a batch's events, oldest state first, in tx.
func recordBatch(ctx context.Context, tx bun.IDB, recs []*taskRunRecord) error {
	known, err := findTaskRuns(ctx, tx, recs)
	if err != nil {
		return err
	}
	now := types.Now()
	states := make([]taskRunState, 0, len(recs))
	for _, rec := range recs {
		id, err := known.record(ctx, tx, rec, now)
		if err != nil {
			return err
		}
		states = append(states, newTaskRunState(rec, id, now))
	}
	return insertTaskRunStates(ctx, tx, states)
}
