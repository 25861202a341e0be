package main

import (
	"testing"
	"time"
)

func TestPercentilesOf(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p50, p95, p99 := percentilesOf(d)
	if p50 != 50 || p95 != 95 || p99 != 99 {
		t.Fatalf("got %v %v %v, want 50 95 99", p50, p95, p99)
	}
	if a, b, c := percentilesOf(nil); a != 0 || b != 0 || c != 0 {
		t.Fatalf("empty: got %v %v %v", a, b, c)
	}
}

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"sqlite", "(?, ?), (?, ?)"},
		{"postgres", "($1, $2), ($3, $4)"},
	}
	for _, tt := range tests {
		if got := placeholders(tt.give, 2, 2); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.give, got, tt.want)
		}
	}
	if got := rebind("postgres", "a = ? AND b = ?"); got != "a = $1 AND b = $2" {
		t.Errorf("rebind: got %q", got)
	}
}

// TestRatios checks the direction of "ours vs python": > 1 is ours better,
// for a throughput and for a latency; the driver row shows our share.
func TestRatios(t *testing.T) {
	r := &report{Results: []result{
		{Workload: "2", Variant: "1", Database: "sqlite", Server: "ours", Value: 30, HigherBest: true},
		{Workload: "2", Variant: "1", Database: "sqlite", Server: "python", Value: 3, HigherBest: true},
		{Workload: "2", Variant: "1", Database: "sqlite", Server: "driver", Value: 60, HigherBest: true},
		{Workload: "4", Variant: "q", Database: "sqlite", Server: "ours", Value: 2},
		{Workload: "4", Variant: "q", Database: "sqlite", Server: "python", Value: 8},
		{Workload: "6", Variant: "s", Database: "sqlite", Server: "ours", NA: "n/a (route not built)"},
		{Workload: "6", Variant: "s", Database: "sqlite", Server: "python", Value: 8},
	}}
	r.ratios()
	tests := []struct {
		give int
		want string
	}{{0, "10.00x"}, {2, "ours 50%"}, {3, "4.00x"}, {5, ""}}
	for _, tt := range tests {
		if got := r.ratio(r.Results[tt.give]); got != tt.want {
			t.Errorf("row %d: got %q, want %q", tt.give, got, tt.want)
		}
	}
}
