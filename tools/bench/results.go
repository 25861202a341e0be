package main

import (
	"fmt"
	"time"
)

// result is one measured line: one workload variant on one server and
// database.
type result struct {
	Workload   string  `json:"workload"`
	Variant    string  `json:"variant"`
	Server     string  `json:"server"`
	Database   string  `json:"database"`
	Metric     string  `json:"metric"` // what Value is, e.g. "runs/s", "s", "ms p50"
	Value      float64 `json:"value"`
	HigherBest bool    `json:"higher_is_better"`
	Count      int     `json:"count"`
	Seconds    float64 `json:"seconds"`
	P50ms      float64 `json:"p50_ms"`
	P95ms      float64 `json:"p95_ms"`
	P99ms      float64 `json:"p99_ms"`
	Errors     int64   `json:"errors"`
	Retries    int64   `json:"retries"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	IdleRSSMiB float64 `json:"idle_rss_mib"`
	CPUSeconds float64 `json:"cpu_seconds"`
	NA         string  `json:"na,omitempty"` // why there is no number
	Note       string  `json:"note,omitempty"`
}

func (r result) key() string { return r.Workload + "|" + r.Variant + "|" + r.Database }

// usage fills the resource columns from a sampler window.
func (r *result) usage(rn *running, end func() (int64, time.Duration)) {
	peak, cpu := end()
	r.PeakRSSMiB = mib(peak)
	r.IdleRSSMiB = mib(rn.idleRSS)
	r.CPUSeconds = cpu.Seconds()
	r.Errors, r.Retries = rn.api.counters()
	if f := rn.api.firstFailure(); f != "" {
		r.Note = joinNote(r.Note, "first failure: "+f)
	}
}

func joinNote(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func naResult(workload, variant string, t target, reason string) result {
	return result{Workload: workload, Variant: variant, Server: string(t.kind), Database: t.dbKind, NA: reason}
}

func failed(workload, variant string, t target, err error) result {
	return naResult(workload, variant, t, fmt.Sprintf("failed: %v", err))
}
