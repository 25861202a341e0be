package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

//go:embed client_flows.py
var clientFlowsPy []byte

// clientFlows is workload 3: the official Python client runs Prefect's own
// benchmark flows against the server; wall time per flow.
func clientFlows(ctx context.Context, t target, rn *running, home string) []result {
	const workload = "3 client flows"
	script := filepath.Join(home, "client_flows.py")
	if err := os.WriteFile(script, clientFlowsPy, 0o644); err != nil {
		return []result{failed(workload, "", t, err)}
	}
	clientHome := filepath.Join(home, "client")
	deadline := t.cfg.clientTime
	ctx, cancel := context.WithTimeout(ctx, deadline+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(t.cfg.venv, "bin", "python"), script,
		"--reps", fmt.Sprint(t.cfg.clientReps), "--deadline", fmt.Sprint(deadline.Seconds()))
	cmd.Env = append(clientEnv(), "PREFECT_HOME="+clientHome, "PREFECT_API_URL="+rn.srv.base+"/api")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	end := rn.sampler.window()
	out, err := cmd.Output()
	peak, cpu := end()
	type line struct {
		Case    string  `json:"case"`
		Seconds float64 `json:"seconds"`
		OK      bool    `json:"ok"`
		Error   *string `json:"error"`
	}
	byCase := map[string][]time.Duration{}
	failures := map[string]int64{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if _, seen := byCase[l.Case]; !seen {
			order = append(order, l.Case)
		}
		byCase[l.Case] = append(byCase[l.Case], time.Duration(l.Seconds*float64(time.Second)))
		if !l.OK {
			failures[l.Case]++
		}
	}
	if len(order) == 0 {
		return []result{failed(workload, "", t, fmt.Errorf("driver: %v: %s", err, lastLines(stderr.String(), 5)))}
	}
	var res []result
	for _, c := range order {
		d := byCase[c]
		r := result{Workload: workload, Variant: c, Server: string(t.kind), Database: t.dbKind, Metric: "s p50",
			Count: len(d), Errors: failures[c]}
		r.P50ms, r.P95ms, r.P99ms = percentilesOf(slices.Clone(d))
		r.Value = r.P50ms / 1000
		for _, x := range d {
			r.Seconds += x.Seconds()
		}
		res = append(res, r)
	}
	// Resources are for the whole driver run, on its first line.
	res[0].PeakRSSMiB, res[0].IdleRSSMiB, res[0].CPUSeconds = mib(peak), mib(rn.idleRSS), cpu.Seconds()
	res[0].Note = "RSS/CPU for all cases"
	if err != nil {
		res[0].Note += "; driver: " + err.Error()
	}
	_, _ = rn.api.counters()
	return res
}

// clientEnv is the caller's environment without Prefect settings, and a
// client that polls fast and keeps quiet.
func clientEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PREFECT_") {
			env = append(env, kv)
		}
	}
	return append(env, "PREFECT_LOGGING_LEVEL=WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED=false")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
