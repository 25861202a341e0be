package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// runsPerDeployment is what Prefect's scheduler makes for an hourly schedule
// with its default settings: at least min_runs (3), and no more once a run
// lies beyond min_scheduled_time (1 h) from now; the third hourly run does.
const runsPerDeployment = 3

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
	// Creating the deployments is bounded on its own, so that a slow
	// creation does not eat the scheduler's time.
	start := time.Now()
	ids, err := createDeployments(ctx, rn, flow.ID, n, start.Add(t.cfg.schedTime))
	if errors.Is(err, errNotBuilt) {
		return []result{naResult(workload, variant, t, "n/a (route not built: /api/deployments/)")}
	}
	created := time.Since(start)
	want := len(ids) * runsPerDeployment
	have := 0
	body := map[string]any{"flows": map[string]any{"id": map[string]any{"any_": []string{flow.ID}}},
		"flow_runs": map[string]any{"state": map[string]any{"type": map[string]any{"any_": []string{"SCHEDULED"}}}}}
	schedStart := time.Now()
	deadline := schedStart.Add(t.cfg.schedTime)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := rn.api.call(ctx, "POST", "/api/flow_runs/count", body, &have); err == nil && have >= want {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The clock starts at the first deployment: the scheduler may begin
	// while the others are still being created.
	took := time.Since(start)
	r := result{Workload: workload, Variant: fmt.Sprintf("%d deployments x %d runs", len(ids), runsPerDeployment),
		Server: string(t.kind), Database: t.dbKind, Metric: "runs/s", HigherBest: true, Count: have, Seconds: took.Seconds()}
	r.Value = float64(have) / took.Seconds()
	r.usage(rn, end)
	r.Note = joinNote(fmt.Sprintf("%d deployments created in %.1fs; %d of %d runs scheduled %.1fs later",
		len(ids), created.Seconds(), have, want, time.Since(schedStart).Seconds()), r.Note)
	if have < want {
		r.Note += fmt.Sprintf(" (incomplete at the %s bound)", t.cfg.schedTime)
	}
	if err != nil {
		r.Note = joinNote(r.Note, err.Error())
	}
	return []result{r}
}

// createDeployments creates up to n deployments of one flow until stopAt,
// half with an hourly interval schedule and half with an hourly cron, from
// 8 goroutines.
func createDeployments(ctx context.Context, rn *running, flowID string, n int, stopAt time.Time) ([]string, error) {
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
	for i := 0; i < n && ctx.Err() == nil && time.Now().Before(stopAt); i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids, firstErr
}
