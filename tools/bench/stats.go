package main

import (
	"slices"
	"sync"
	"time"
)

// latencies collects per-call durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// percentiles returns p50, p95 and p99 in milliseconds (nearest rank).
func (l *latencies) percentiles() (p50, p95, p99 float64) {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	return percentilesOf(d)
}

func percentilesOf(d []time.Duration) (p50, p95, p99 float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		i := int(p*float64(len(d))+0.5) - 1
		i = min(max(i, 0), len(d)-1)
		return float64(d[i].Microseconds()) / 1000
	}
	return at(0.50), at(0.95), at(0.99)
}
