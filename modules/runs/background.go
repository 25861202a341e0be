package runs

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/config"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Background tasks (task.delay(), `prefect task serve`): a task run created
// Scheduled with deferred=True goes through BackgroundTaskPolicy, whose
// EnqueueScheduledTasks puts it on the in-memory queue of its task key once
// its transaction commits; task workers subscribed to the key on the
// websocket /task_runs/subscriptions/scheduled receive it. As in Prefect the
// queues and the worker registry live in the API process.

// Prefect's PREFECT_TASK_SCHEDULING_MAX_{SCHEDULED,RETRY}_QUEUE_SIZE.
const (
	envScheduledQueueSize = "PREFECT_TASK_SCHEDULING_MAX_SCHEDULED_QUEUE_SIZE"
	envRetryQueueSize     = "PREFECT_TASK_SCHEDULING_MAX_RETRY_QUEUE_SIZE"
)

// taskQueues are Prefect's TaskQueue per task key: a bounded queue of
// scheduled runs and one of runs to retry, served first.
type taskQueues struct {
	mu                       sync.Mutex
	queues                   map[string]*taskQueue
	scheduledSize, retrySize int
	wake                     chan struct{} // closed and replaced on every put
}

type taskQueue struct{ scheduled, retry chan uuid.UUID }

func newTaskQueues(svc config.Services) (*taskQueues, error) {
	scheduled, err := svc.Int(envScheduledQueueSize, 1000)
	if err != nil {
		return nil, err
	}
	retry, err := svc.Int(envRetryQueueSize, 100)
	if err != nil {
		return nil, err
	}
	return &taskQueues{queues: map[string]*taskQueue{}, scheduledSize: max(1, scheduled), retrySize: max(1, retry),
		wake: make(chan struct{})}, nil
}

func (q *taskQueues) forKey(key string) *taskQueue {
	q.mu.Lock()
	defer q.mu.Unlock()
	tq, ok := q.queues[key]
	if !ok {
		tq = &taskQueue{scheduled: make(chan uuid.UUID, q.scheduledSize), retry: make(chan uuid.UUID, q.retrySize)}
		q.queues[key] = tq
	}
	return tq
}

// put queues a task run, waiting while the queue is full (as Prefect's
// asyncio.Queue.put does) until ctx ends.
func (q *taskQueues) put(ctx context.Context, key string, id uuid.UUID, retry bool) error {
	tq := q.forKey(key)
	ch := tq.scheduled
	if retry {
		ch = tq.retry
	}
	select {
	case ch <- id:
	case <-ctx.Done():
		return ctx.Err()
	}
	q.mu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
	return nil
}

// get takes the next run of any of keys, retries first, waiting up to
// timeout; ok is false when none came.
func (q *taskQueues) get(ctx context.Context, keys []string, timeout time.Duration) (id uuid.UUID, key string, ok bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		wake := q.wake
		q.mu.Unlock()
		for _, k := range keys {
			tq := q.forKey(k)
			select {
			case id := <-tq.retry:
				return id, k, true
			default:
			}
			select {
			case id := <-tq.scheduled:
				return id, k, true
			default:
			}
		}
		select {
		case <-wake:
		case <-deadline.C:
			return uuid.Nil, "", false
		case <-ctx.Done():
			return uuid.Nil, "", false
		}
	}
}

// taskWorkers is Prefect's InMemoryTaskWorkerTracker: the workers with an
// open subscription and the task keys they serve.
type taskWorkers struct {
	mu      sync.Mutex
	workers map[string]*taskWorker
}

type taskWorker struct {
	keys map[string]bool
	seen time.Time
}

// TaskWorkerResponse is Prefect's TaskWorkerResponse.
type TaskWorkerResponse struct {
	Identifier string         `json:"identifier"`
	TaskKeys   []string       `json:"task_keys"`
	Timestamp  types.DateTime `json:"timestamp"`
}

func newTaskWorkers() *taskWorkers { return &taskWorkers{workers: map[string]*taskWorker{}} }

func (w *taskWorkers) observe(keys []string, id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tw, ok := w.workers[id]
	if !ok {
		tw = &taskWorker{keys: map[string]bool{}}
		w.workers[id] = tw
	}
	for _, k := range keys {
		tw.keys[k] = true
	}
	tw.seen = clock()
}

func (w *taskWorkers) forget(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.workers, id)
}

// list returns the workers serving any of keys (all workers for none).
func (w *taskWorkers) list(keys []string) []TaskWorkerResponse {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []TaskWorkerResponse{}
	for id, tw := range w.workers {
		match := len(keys) == 0
		for _, k := range keys {
			match = match || tw.keys[k]
		}
		if !match {
			continue
		}
		ks := make([]string, 0, len(tw.keys))
		for k := range tw.keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		out = append(out, TaskWorkerResponse{Identifier: id, TaskKeys: ks, Timestamp: types.From(tw.seen)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Identifier < out[j].Identifier })
	return out
}

// Orders of the BackgroundTaskPolicy rules that CoreTaskPolicy lacks.
const (
	orderTaskPreventPendingTransitions = 50
	orderCopyTaskParametersID          = 550
	orderEnqueueScheduledTasks         = 1200
)

// copyTaskParametersID keeps the parameters id of a deferred run's
// previous state (CopyTaskParametersID).
func copyTaskParametersID() o.Rule {
	return o.Rule{Name: "CopyTaskParametersID", Order: orderCopyTaskParametersID, From: o.All(), To: o.All(),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial != nil && t.Proposed != nil && t.Proposed.StateDetails.TaskParametersID == nil {
				t.Proposed.StateDetails.TaskParametersID = t.Initial.StateDetails.TaskParametersID
			}
			return nil
		}}
}

// enqueueScheduledTasks queues a deferred run that became Scheduled for the
// task workers (EnqueueScheduledTasks), once its transaction commits.
func enqueueScheduledTasks(q *taskQueues) o.Rule {
	return o.Rule{Name: "EnqueueScheduledTasks", Order: orderEnqueueScheduledTasks, From: o.All(), To: o.Of(o.Scheduled),
		After: func(ctx context.Context, t *o.Transition, _ o.Memo) error {
			v := t.Validated
			if v == nil || v.StateDetails.Deferred == nil || !*v.StateDetails.Deferred {
				return nil
			}
			box, _ := ctx.Value(outboxKey{}).(*outbox)
			if box == nil {
				return nil
			}
			key, id, retry := t.Run.TaskKey, t.Run.ID, v.Name == "AwaitingRetry"
			box.afterCommit(func(ctx context.Context) error { return q.put(ctx, key, id, retry) })
			return nil
		}}
}

// backgroundTaskRules are BackgroundTaskPolicy's rules: the core task
// rules but the concurrency-slot check, plus the ones above.
func backgroundTaskRules(contributed []o.Rule, q *taskQueues) []o.Rule {
	rules := []o.Rule{preventPendingTransitions(orderTaskPreventPendingTransitions), cacheRetrieval(),
		handleTaskTerminalStateTransitions(), copyScheduledTime(o.OrderTaskCopyScheduledTime), copyTaskParametersID(),
		waitForScheduledTime(o.OrderTaskWaitForScheduledTime), retryFailedTasks(), renameReruns(),
		updateFlowRunTrackerOnTasks(), cacheInsertion(), enqueueScheduledTasks(q)}
	for _, r := range contributed {
		if r.Name != "SecureTaskConcurrencySlots" { // cached states are retrieved even when slots are full
			rules = append(rules, r)
		}
	}
	return rules
}
