package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// schedulerMaxRuns caps the runs the scheduler makes per deployment (the
// same setting for both servers), so the expected total is known.
const schedulerMaxRuns = 10

// scheduler is workload 6: deployments with interval and cron schedules are
// created, and the time until the scheduler service has made every
// deployment's runs is measured.
func scheduler(ctx context.Context, t target, rn *running) []result {
	const workload, variant = "6 scheduler", "deployments scheduled"
	var flow struct {
		ID string `json:"id"`
	}
	if _, err := rn.api.call(ctx, "POST", "/api/flows/", map[string]any{"name": "bench-scheduler"}, &flow); err != nil {
		return []result{failed(workload, variant, t, err)}
	}
	if !rn.api.routeBuilt(ctx, "/api/deployments/filter") {
		return []result{naResult(workload, variant, t, "n/a (route not built: /api/deployments/)")}
	}
	n := t.cfg.deployments
	end := rn.sampler.window()
	start := time.Now()
	ids, err := createDeployments(ctx, rn, flow.ID, n)
	if errors.Is(err, errNotBuilt) {
		return []result{naResult(workload, variant, t, "n/a (route not built: /api/deployments/)")}
	}
	created := time.Since(start)
	want := len(ids) * schedulerMaxRuns
	have := 0
	body := map[string]any{"flows": map[string]any{"id": map[string]any{"any_": []string{flow.ID}}},
		"flow_runs": map[string]any{"state": map[string]any{"type": map[string]any{"any_": []string{"SCHEDULED"}}}}}
	deadline := start.Add(t.cfg.schedTime)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := rn.api.call(ctx, "POST", "/api/flow_runs/count", body, &have); err == nil && have >= want {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	took := time.Since(start)
	r := result{Workload: workload, Variant: fmt.Sprintf("%d deployments x %d runs", len(ids), schedulerMaxRuns),
		Server: string(t.kind), Database: t.dbKind, Metric: "runs/s", HigherBest: true, Count: have, Seconds: took.Seconds()}
	r.Value = float64(have) / took.Seconds()
	r.usage(rn, end)
	r.Note = joinNote(fmt.Sprintf("%d deployments created in %.1fs; %d of %d runs scheduled", len(ids), created.Seconds(), have, want), r.Note)
	if have < want {
		r.Note += fmt.Sprintf(" (incomplete at the %s bound)", t.cfg.schedTime)
	}
	if err != nil {
		r.Note += "; " + err.Error()
	}
	return []result{r}
}

// createDeployments creates n deployments of one flow, half with an hourly
// interval schedule and half with an hourly cron, from 8 goroutines.
func createDeployments(ctx context.Context, rn *running, flowID string, n int) ([]string, error) {
	var mu sync.Mutex
	var ids []string
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				schedule := map[string]any{"interval": 3600}
				if i%2 == 1 {
					schedule = map[string]any{"cron": "0 * * * *", "timezone": "UTC"}
				}
				var dep struct {
					ID string `json:"id"`
				}
				_, err := rn.api.call(ctx, "POST", "/api/deployments/", map[string]any{
					"name": fmt.Sprintf("bench-scheduled-%d", i), "flow_id": flowID,
					"schedules": []map[string]any{{"schedule": schedule, "active": true}},
				}, &dep)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					ids = append(ids, dep.ID)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids, firstErr
}
