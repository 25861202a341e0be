package main

import (
	"context"
	"time"
)

// coldStart is workload 1: process start to /api/ready answering 200, on a
// database that already exists (migrated, possibly seeded); RSS at ready.
func coldStart(ctx context.Context, t target, home string, d *database, variant string) result {
	r := result{Workload: "1 cold start", Variant: variant, Server: string(t.kind), Database: t.dbKind, Metric: "s p50"}
	var took []time.Duration
	var rss int64
	for i := 0; i < t.cfg.coldReps && ctx.Err() == nil; i++ {
		start := time.Now()
		srv, err := t.start(home, d.serverURL())
		if err != nil {
			return failed(r.Workload, variant, t, err)
		}
		if err := srv.waitReady(t.cfg.readyTimeout); err != nil {
			srv.stop()
			r.Errors++
			continue
		}
		took = append(took, time.Since(start))
		rss = max(rss, groupUsage(srv.pgid()).RSSBytes)
		srv.stop()
	}
	if len(took) == 0 {
		return naResult(r.Workload, variant, t, "failed: never ready")
	}
	r.Count = len(took)
	r.P50ms, r.P95ms, r.P99ms = percentilesOf(took)
	r.Value = r.P50ms / 1000
	r.PeakRSSMiB = mib(rss)
	r.Note = "RSS at ready"
	return r
}
