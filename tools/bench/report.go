package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the table of one harness run and what it ran on.
type report struct {
	Commit   string   `json:"commit"`
	Machine  string   `json:"machine"`
	Quick    bool     `json:"quick"`
	Started  string   `json:"finished"`
	Elapsed  string   `json:"elapsed"`
	Command  string   `json:"command"`
	Results  []result `json:"results"`
	ratioFor map[string]string
}

func newReport(results []result, commit string, quick bool, elapsed time.Duration) *report {
	r := &report{Results: results, Quick: quick, Elapsed: elapsed.Round(time.Second).String(),
		Started: time.Now().UTC().Format(time.RFC3339), Command: "go run ./tools/bench " + strings.Join(os.Args[1:], " ")}
	r.Commit = commit
	r.Machine = machine()
	r.ratios()
	return r
}

// ratios pairs each of our results with Python's (and the driver's) for the
// same workload, variant and database: > 1 means ours is better.
func (r *report) ratios() {
	by := map[string]map[string]result{}
	for _, x := range r.Results {
		if by[x.key()] == nil {
			by[x.key()] = map[string]result{}
		}
		by[x.key()][x.Server] = x
	}
	r.ratioFor = map[string]string{}
	for k, m := range by {
		o, okO := m[string(ours)]
		p, okP := m[string(python)]
		if okO && okP && o.NA == "" && p.NA == "" && o.Value > 0 && p.Value > 0 {
			ratio := p.Value / o.Value
			if o.HigherBest {
				ratio = o.Value / p.Value
			}
			r.ratioFor[k+"|ours"] = fmt.Sprintf("%.2fx", ratio)
		}
		if d, ok := m["driver"]; ok && okO && d.Value > 0 && o.NA == "" {
			r.ratioFor[k+"|driver"] = fmt.Sprintf("ours %.0f%%", 100*o.Value/d.Value)
		}
	}
}

func (r *report) ratio(x result) string { return r.ratioFor[x.key()+"|"+x.Server] }

var header = []string{"workload", "variant", "db", "server", "value", "p50 ms", "p95 ms", "p99 ms", "n", "errors",
	"retries", "peak MiB", "idle MiB", "CPU s", "ours vs python", "note"}

func (r *report) rows() [][]string {
	var rows [][]string
	for _, x := range r.Results {
		if x.NA != "" {
			rows = append(rows, []string{x.Workload, x.Variant, x.Database, x.Server, x.NA, "", "", "", "", "", "", "", "", "", "", ""})
			continue
		}
		num := func(v float64) string {
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", v)
		}
		rows = append(rows, []string{x.Workload, x.Variant, x.Database, x.Server,
			fmt.Sprintf("%.3g %s", x.Value, x.Metric), num(x.P50ms), num(x.P95ms), num(x.P99ms),
			fmt.Sprint(x.Count), fmt.Sprint(x.Errors), fmt.Sprint(x.Retries), num(x.PeakRSSMiB), num(x.IdleRSSMiB),
			fmt.Sprintf("%.2f", x.CPUSeconds), r.ratio(x), x.Note})
	}
	return rows
}

func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range r.rows() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintf(w, "\ncommit %s, %s, %s, elapsed %s\n", r.Commit, r.Machine, map[bool]string{true: "quick", false: "full"}[r.Quick], r.Elapsed)
}

// markdown renders the table for docs/bench/README.md.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Commit `%s`, %s, %s run, %s, finished %s.\n\n", r.Commit, r.Machine,
		map[bool]string{true: "quick", false: "full"}[r.Quick], r.Elapsed, r.Started)
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString(strings.Repeat("|---", len(header)) + "|\n")
	for _, row := range r.rows() {
		for i := range row {
			row[i] = strings.ReplaceAll(row[i], "|", "/")
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), data, 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(r.markdown()), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return renderChart(r, filepath.Join(dir, "chart.png"))
}

// renderSaved prints a saved results.json and writes its table and chart
// again (after a change to the report or the chart).
func renderSaved(path, dir string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("read results %s: %w", path, err)
	}
	r.ratios()
	r.print(os.Stdout)
	return r.write(dir)
}

// gitCommit is the checkout's commit, with "+dirty" when it has changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s/%s, %d cores (%s)%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, mem)
}
