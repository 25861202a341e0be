package main

import (
	"context"
	"fmt"
	"time"
)

// tier is one size of the seeded database and how many runs match.
type tier struct {
	label           string
	total, matching int
}

// readQuery is one request of workload 4; needs lists the routes that must
// exist for it to mean anything.
type readQuery struct {
	name  string
	path  string
	body  map[string]any
	needs []string
}

func readQueries(st seedTargets) []readQuery {
	byFlow := map[string]any{"flows": map[string]any{"id": map[string]any{"any_": []string{st.flowMatch}}}}
	byDep := map[string]any{"deployments": map[string]any{"id": map[string]any{"any_": []string{st.deployment}}}}
	byQueue := map[string]any{"work_queues": map[string]any{"id": map[string]any{"any_": []string{st.queue}}}}
	byPool := map[string]any{"work_pools": map[string]any{"id": map[string]any{"any_": []string{st.pool}}}}
	all := map[string]any{}
	for _, f := range []map[string]any{byFlow, byDep, byQueue, byPool} {
		for k, v := range f {
			all[k] = v
		}
	}
	deps := "/api/deployments/filter"
	queues := "/api/work_queues/filter"
	pools := "/api/work_pools/filter"
	filters := []struct {
		name  string
		body  map[string]any
		needs []string
	}{
		{"flow", byFlow, nil},
		{"deployment", byDep, []string{deps}},
		{"work queue", byQueue, []string{queues}},
		{"work pool", byPool, []string{pools}},
		{"all four", all, []string{deps, queues, pools}},
	}
	var qs []readQuery
	for _, f := range filters {
		qs = append(qs, readQuery{name: "count by " + f.name, path: "/api/flow_runs/count", body: f.body, needs: f.needs})
		page := map[string]any{"limit": 200, "sort": "EXPECTED_START_TIME_DESC"}
		for k, v := range f.body {
			page[k] = v
		}
		qs = append(qs, readQuery{name: "filter by " + f.name, path: "/api/flow_runs/filter", body: page, needs: f.needs})
	}
	// The UI dashboard's requests: recent runs, their state counts and the
	// run history chart.
	dayAgo := isoNow(time.Now().Add(-24 * time.Hour))
	recent := map[string]any{"flow_runs": map[string]any{"expected_start_time": map[string]any{"after_": dayAgo}}}
	qs = append(qs,
		readQuery{name: "dashboard: recent runs", path: "/api/flow_runs/filter",
			body: map[string]any{"flow_runs": recent["flow_runs"], "sort": "EXPECTED_START_TIME_DESC", "limit": 50}},
		readQuery{name: "dashboard: failed count", path: "/api/flow_runs/count",
			body: map[string]any{"flow_runs": map[string]any{"expected_start_time": map[string]any{"after_": dayAgo},
				"state": map[string]any{"type": map[string]any{"any_": []string{"FAILED", "CRASHED"}}}}}},
		readQuery{name: "dashboard: history", path: "/api/flow_runs/history",
			body:  map[string]any{"history_start": dayAgo, "history_end": isoNow(time.Now()), "history_interval_seconds": 3600},
			needs: []string{"/api/flow_runs/history"}},
	)
	return qs
}

// readPaths is workload 4: flow runs seeded straight into the server's
// schema in tiers (1k/10k/100k with 100/1k/5k matching), and the latency of
// the count and filter requests at each tier.
func readPaths(ctx context.Context, t target, rn *running, d *database) []result {
	const workload = "4 reads"
	st, err := readSetup(ctx, rn)
	if err != nil {
		return []result{failed(workload, "setup", t, err)}
	}
	built := map[string]bool{}
	for _, p := range []string{"/api/deployments/filter", "/api/work_queues/filter", "/api/work_pools/filter", "/api/flow_runs/history"} {
		built[p] = rn.api.routeBuilt(ctx, p)
	}
	var out []result
	seeded, matched := 0, 0
	for i, tr := range t.cfg.tiers {
		if err := seedFlowRuns(ctx, t, d, st, uint64(i+1), tr.total-seeded, tr.matching-matched); err != nil {
			return append(out, failed(workload, tr.label, t, err))
		}
		seeded, matched = tr.total, tr.matching
		for _, q := range readQueries(st) {
			variant := tr.label + ": " + q.name
			missing := ""
			for _, n := range q.needs {
				if !built[n] {
					missing = n
				}
			}
			if missing != "" {
				out = append(out, naResult(workload, variant, t, "n/a (route not built: "+missing+")"))
				continue
			}
			out = append(out, timeQuery(ctx, t, rn, workload, variant, q))
		}
	}
	return out
}

func timeQuery(ctx context.Context, t target, rn *running, workload, variant string, q readQuery) result {
	var lat latencies
	end := rn.sampler.window()
	start := time.Now()
	deadline := start.Add(t.cfg.queryTime)
	for i := 0; i < t.cfg.queryReps && time.Now().Before(deadline); i++ {
		took, err := rn.api.call(ctx, "POST", q.path, q.body, nil)
		if err != nil {
			continue
		}
		lat.add(took)
	}
	r := result{Workload: workload, Variant: variant, Server: string(t.kind), Database: t.dbKind, Metric: "ms p50",
		Count: lat.count(), Seconds: time.Since(start).Seconds()}
	r.P50ms, r.P95ms, r.P99ms = lat.percentiles()
	r.Value = r.P50ms
	r.usage(rn, end)
	return r
}

// readSetup creates, through the API, the flows, and where the server has
// the routes the work pool, its queue and a deployment the matching runs
// point at.
func readSetup(ctx context.Context, rn *running) (seedTargets, error) {
	var st seedTargets
	var obj struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"bench-reads-match", &st.flowMatch}, {"bench-reads-other", &st.flowOther}} {
		if _, err := rn.api.call(ctx, "POST", "/api/flows/", map[string]any{"name": f.name}, &obj); err != nil {
			return st, fmt.Errorf("create flow: %w", err)
		}
		*f.dst = obj.ID
	}
	if _, err := rn.api.call(ctx, "POST", "/api/work_pools/", map[string]any{"name": "bench-pool", "type": "process"}, &obj); err != nil {
		rn.api.forget() // a 404 here only means "not built"
		return st, nil
	}
	st.pool = obj.ID
	if _, err := rn.api.call(ctx, "POST", "/api/work_pools/bench-pool/queues/", map[string]any{"name": "bench-queue"}, &obj); err != nil {
		return st, fmt.Errorf("create work queue: %w", err)
	}
	st.queue, st.queueName = obj.ID, obj.Name
	if _, err := rn.api.call(ctx, "POST", "/api/deployments/", map[string]any{"name": "bench-deployment", "flow_id": st.flowMatch,
		"work_pool_name": "bench-pool", "work_queue_name": "bench-queue"}, &obj); err != nil {
		rn.api.forget()
		return st, nil
	}
	st.deployment = obj.ID
	return st, nil
}
