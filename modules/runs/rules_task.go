package runs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// maxCacheKeyLength is PREFECT_SERVER_TASKS_MAX_CACHE_KEY_LENGTH's default.
const maxCacheKeyLength = 2000

func coreTaskRules() []o.Rule {
	return []o.Rule{
		cacheRetrieval(),
		handleTaskTerminalStateTransitions(),
		preventRunningTasksFromStoppedFlows(),
		copyScheduledTime(o.OrderTaskCopyScheduledTime),
		waitForScheduledTime(o.OrderTaskWaitForScheduledTime),
		retryFailedTasks(),
		renameReruns(),
		updateFlowRunTrackerOnTasks(),
		cacheInsertion(),
	}
}

// cacheEntry is a row of task_run_state_cache.
type cacheEntry struct {
	bun.BaseModel   `bun:"table:task_run_state_cache,alias:task_run_state_cache"`
	ID              uuid.UUID       `bun:"id,pk,type:uuid"`
	Created         types.DateTime  `bun:"created,notnull"`
	Updated         types.DateTime  `bun:"updated,notnull"`
	CacheKey        string          `bun:"cache_key,notnull"`
	CacheExpiration *types.DateTime `bun:"cache_expiration"`
	TaskRunStateID  uuid.UUID       `bun:"task_run_state_id,type:uuid,notnull"`
}

// cacheRetrieval answers a run with a cached completed state for its key.
func cacheRetrieval() o.Rule {
	return o.Rule{Name: "CacheRetrieval", Order: o.OrderCacheRetrieval, From: o.All(), To: o.Of(o.Running),
		Before: func(ctx context.Context, t *o.Transition, _ o.Memo) error {
			d := t.Proposed.StateDetails
			if d.CacheKey == nil || *d.CacheKey == "" || (d.RefreshCache != nil && *d.RefreshCache) || t.Tx == nil {
				return nil
			}
			var row taskRunState
			sub := t.Tx.NewSelect().Model((*cacheEntry)(nil)).Column("task_run_state_id").
				Where("cache_key = ?", *d.CacheKey).
				Where("cache_expiration IS NULL OR cache_expiration > ?", types.From(clock())).
				Order("created DESC").Limit(1)
			err := t.Tx.NewSelect().Model(&row).Where("task_run_state.id = (?)", sub).Scan(ctx)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read cached state: %w", err)
			}
			cached := row.state()
			cached.ID, cached.Timestamp, cached.Name = newStateID(), types.From(clock()), "Cached"
			return t.Reject(cached, "Retrieved state from cache")
		}}
}

// cacheInsertion records completed states that carry a cache key.
func cacheInsertion() o.Rule {
	return o.Rule{Name: "CacheInsertion", Order: o.OrderCacheInsertion, From: o.All(), To: o.Of(o.Completed),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if k := t.Proposed.StateDetails.CacheKey; k != nil && len(*k) > maxCacheKeyLength {
				return t.Reject(t.Proposed, fmt.Sprintf("Cache key exceeded maximum allowed length of %d characters.", maxCacheKeyLength))
			}
			return nil
		},
		After: func(ctx context.Context, t *o.Transition, _ o.Memo) error {
			v := t.Validated
			if v == nil || t.Tx == nil || v.StateDetails.CacheKey == nil || *v.StateDetails.CacheKey == "" {
				return nil
			}
			now := types.From(clock())
			e := &cacheEntry{ID: uuid.New(), Created: now, Updated: now, CacheKey: *v.StateDetails.CacheKey,
				CacheExpiration: v.StateDetails.CacheExpiration, TaskRunStateID: v.ID}
			if _, err := t.Tx.NewInsert().Model(e).Exec(ctx); err != nil {
				return fmt.Errorf("insert cache entry: %w", err)
			}
			return nil
		}}
}

// handleTaskTerminalStateTransitions keeps tasks in terminal states and
// resets retries when a task is rerun.
func handleTaskTerminalStateTransitions() o.Rule {
	return o.Rule{Name: "HandleTaskTerminalStateTransitions", Order: o.OrderHandleTaskTerminalStateTransitions,
		From: o.Terminal(), To: o.All(),
		Before: func(ctx context.Context, t *o.Transition, memo o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			memo["run_count"] = t.Run.RunCount
			in, pr := t.Initial, t.Proposed
			if pr.Type == o.Cancelling || pr.Type == o.Paused || pr.Type == o.Crashed {
				t.Abort(fmt.Sprintf("Run is already %s.", in.Type))
				return nil
			}
			if in.Type == o.Completed && o.HasPersistedResult(in.Data) {
				return t.Reject(nil, "This run is already completed.")
			}
			if !pr.Type.Final() {
				t.Run.RunCount = 0
			}
			if pr.Type == o.Running && t.FlowRun != nil {
				fr, err := t.FlowRun(ctx)
				if err != nil {
					return err
				}
				if fr != nil && t.Run.FlowRunRunCount < fr.RunCount {
					t.Rename("Retrying")
				}
			}
			return nil
		},
		Cleanup: func(_ context.Context, t *o.Transition, memo o.Memo) error {
			if n, ok := memo["run_count"].(int); ok {
				t.Run.RunCount = n
			}
			return nil
		}}
}

// preventRunningTasksFromStoppedFlows lets tasks run only in running flows.
func preventRunningTasksFromStoppedFlows() o.Rule {
	return o.Rule{Name: "PreventRunningTasksFromStoppedFlows", Order: o.OrderPreventRunningTasksFromStoppedFlows,
		From: o.All(), To: o.Of(o.Running),
		Before: func(ctx context.Context, t *o.Transition, _ o.Memo) error {
			if t.FlowRun == nil {
				return nil
			}
			fr, err := t.FlowRun(ctx)
			if err != nil || fr == nil {
				return err
			}
			const reason = "The enclosing flow must be running to begin task execution."
			switch {
			case fr.State == nil:
				t.Abort(reason)
			case fr.State.Type == o.Paused:
				d := fr.State.StateDetails
				paused := &o.State{ID: newStateID(), Type: o.Paused, Name: "NotReady", Timestamp: types.From(clock()),
					StateDetails: o.StateDetails{PauseTimeout: d.PauseTimeout, PauseReschedule: d.PauseReschedule}}
				return t.Reject(paused, fmt.Sprintf("The flow is paused, new tasks can execute after resuming flow run: %s.", fr.ID))
			case fr.State.Type != o.Running:
				t.Abort(reason)
			}
			return nil
		}}
}

// retryFailedTasks turns a failure into AwaitingRetry while retries remain
// and the client says the failure is retriable.
func retryFailedTasks() o.Rule {
	return o.Rule{Name: "RetryFailedTasks", Order: o.OrderRetryFailedTasks, From: o.Of(o.Running), To: o.Of(o.Failed),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			p := t.Run.TaskPolicy
			if r := t.Proposed.StateDetails.Retriable; r != nil && !*r {
				return nil
			}
			if p.Retries == nil || t.Run.RunCount > *p.Retries {
				return nil
			}
			delay := taskRetryDelay(p.RetryDelay, t.Run.RunCount)
			if p.RetryJitterFactor != nil && *p.RetryJitterFactor > 0 && delay > 0 {
				delay = clampedPoisson(delay, *p.RetryJitterFactor)
			}
			return t.Reject(awaitingRetry(clock().Add(time.Duration(delay*float64(time.Second))), t.Proposed), "Retrying")
		}}
}

// taskRetryDelay reads retry_delay: a number, or a list indexed by attempt.
func taskRetryDelay(raw json.RawMessage, runCount int) float64 {
	var one float64
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var list []float64
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return 0
	}
	return list[max(0, min(runCount-1, len(list)-1))]
}

// clampedPoisson is prefect.utilities.math.clamped_poisson_interval.
func clampedPoisson(avg, clamping float64) float64 {
	upper := avg * (1 + clamping)
	lower := max(0, avg*(1-clamping))
	for i := 0; i < 100; i++ {
		v := -math.Log(max(1e-12, 1-rand.Float64())) * avg
		if v >= lower && v <= upper {
			return v
		}
	}
	return avg
}

// renameReruns names the Running state of a rerun "Rerunning", or
// "Retrying" after AwaitingRetry.
func renameReruns() o.Rule {
	return o.Rule{Name: "RenameReruns", Order: o.OrderRenameReruns, From: o.All(), To: o.Of(o.Running),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil || t.Run.RunCount == 0 {
				return nil
			}
			if t.Initial.Name == "AwaitingRetry" {
				t.Rename("Retrying")
			} else {
				t.Rename("Rerunning")
			}
			return nil
		}}
}

// updateFlowRunTrackerOnTasks records the flow run attempt a task ran in.
func updateFlowRunTrackerOnTasks() o.Rule {
	return o.Rule{Name: "UpdateFlowRunTrackerOnTasks", Order: o.OrderUpdateFlowRunTrackerOnTasks, From: o.All(), To: o.Of(o.Running),
		After: func(ctx context.Context, t *o.Transition, _ o.Memo) error {
			if t.FlowRun == nil {
				return nil
			}
			fr, err := t.FlowRun(ctx)
			if err != nil {
				return err
			}
			if fr == nil {
				return fmt.Errorf("unable to read flow run associated with task run: %s, this flow run might have been deleted", t.Run.ID)
			}
			t.Run.FlowRunRunCount = fr.RunCount
			return nil
		}}
}
