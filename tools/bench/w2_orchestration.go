package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

const (
	tasksPerRun = 10
	logsPerRun  = 10
)

// orchestration is workload 2: clients each create a flow run and drive it
// PENDING -> RUNNING -> COMPLETED through set_state, reporting 10 task runs
// as the client's task engine does (events on /api/events/in) and posting a
// batch of logs, as the official client does for one flow run.
func orchestration(ctx context.Context, t target, rn *running) []result {
	var out []result
	var flow struct {
		ID string `json:"id"`
	}
	if _, err := rn.api.call(ctx, "POST", "/api/flows/", map[string]any{"name": "bench-orchestration"}, &flow); err != nil {
		return []result{failed("2 orchestration", "", t, err)}
	}
	recorded := 0
	for _, clients := range t.cfg.clients {
		variant := fmt.Sprintf("%d clients", clients)
		res, done, err := orchestrationRound(ctx, t, rn, flow.ID, clients)
		if err != nil {
			out = append(out, failed("2 orchestration", variant, t, err))
			continue
		}
		// Task runs exist only once the server has consumed their events.
		recorded += done * tasksPerRun
		lag, missing := waitTaskRuns(ctx, rn, recorded, 30*time.Second)
		res.Errors += int64(missing)
		res.Note = joinNote(fmt.Sprintf("%d task runs recorded %.1fs after the last call", done*tasksPerRun-missing, lag.Seconds()), res.Note)
		out = append(out, res)
	}
	return out
}

func orchestrationRound(ctx context.Context, t target, rn *running, flowID string, clients int) (result, int, error) {
	budget := t.cfg.runsPerClient * clients
	// The bound stops new flow runs; those under way finish, so that no
	// request is cut off in the middle.
	stopAt := time.Now().Add(t.cfg.roundTime)
	var lat latencies
	var started, completed, notAccepted atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	end := rn.sampler.window()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sock, err := openEventSocket(ctx, rn.srv.base)
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			defer sock.close()
			for started.Add(1) <= int64(budget) && time.Now().Before(stopAt) && ctx.Err() == nil {
				ok, err := driveFlowRun(ctx, rn.api, sock, flowID, &lat)
				if err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstErr = err })
					}
					continue
				}
				if !ok {
					notAccepted.Add(1)
				}
				completed.Add(1)
			}
			if err := sock.flush(ctx); err != nil {
				errOnce.Do(func() { firstErr = err })
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if completed.Load() == 0 && firstErr != nil {
		return result{}, 0, firstErr
	}
	r := result{Workload: "2 orchestration", Variant: fmt.Sprintf("%d clients", clients), Server: string(t.kind),
		Database: t.dbKind, Metric: "runs/s", HigherBest: true, Count: int(completed.Load()), Seconds: took.Seconds()}
	r.Value = float64(completed.Load()) / took.Seconds()
	r.P50ms, r.P95ms, r.P99ms = lat.percentiles()
	r.usage(rn, end)
	r.Errors += notAccepted.Load()
	return r, int(completed.Load()), nil
}

// driveFlowRun runs one flow run's life; ok is false when the server did not
// accept a state.
func driveFlowRun(ctx context.Context, a *api, sock *eventSocket, flowID string, lat *latencies) (bool, error) {
	var run struct {
		ID uuid.UUID `json:"id"`
	}
	took, err := a.call(ctx, "POST", "/api/flow_runs/", map[string]any{
		"flow_id": flowID, "name": "bench-" + uuid.NewString()[:8],
		"state": map[string]any{"type": "PENDING", "name": "Pending"},
	}, &run)
	if err != nil {
		return false, err
	}
	lat.add(took)
	ok := true
	setState := func(typ, name string) error {
		var resp struct {
			Status string `json:"status"`
		}
		took, err := a.call(ctx, "POST", "/api/flow_runs/"+run.ID.String()+"/set_state",
			map[string]any{"state": map[string]any{"type": typ, "name": name}, "force": false}, &resp)
		if err != nil {
			return err
		}
		lat.add(took)
		ok = ok && resp.Status == "ACCEPT"
		return nil
	}
	if err := setState("RUNNING", "Running"); err != nil {
		return false, err
	}
	for i := 0; i < tasksPerRun; i++ {
		id, begin := uuid.New(), time.Now()
		name := fmt.Sprintf("bench_task-%d", i)
		for n, st := range [][2]string{{"PENDING", "Pending"}, {"RUNNING", "Running"}, {"COMPLETED", "Completed"}} {
			if err := sock.send(ctx, taskRunEvent(id, run.ID, name, st[0], st[1], min(n, 1), begin, time.Now())); err != nil {
				return false, fmt.Errorf("task run event: %w", err)
			}
		}
	}
	logs := make([]map[string]any, logsPerRun)
	for i := range logs {
		logs[i] = map[string]any{"name": "prefect.flow_runs", "level": 20, "message": fmt.Sprintf("bench log line %d", i),
			"timestamp": isoNow(time.Now()), "flow_run_id": run.ID.String()}
	}
	took, err = a.call(ctx, "POST", "/api/logs/", logs, nil)
	if err != nil {
		return false, err
	}
	lat.add(took)
	if err := setState("COMPLETED", "Completed"); err != nil {
		return false, err
	}
	return ok, nil
}

// waitTaskRuns polls the task run count until it reaches want; it returns
// how long that took and how many were still missing at the deadline.
func waitTaskRuns(ctx context.Context, rn *running, want int, limit time.Duration) (time.Duration, int) {
	start := time.Now()
	have := 0
	for time.Since(start) < limit && ctx.Err() == nil {
		if _, err := rn.api.call(ctx, "POST", "/api/task_runs/count", map[string]any{}, &have); err == nil && have >= want {
			return time.Since(start), 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), max(want-have, 0)
}
