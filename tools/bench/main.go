// Command bench runs the same workloads against our server and against the
// official Python Prefect server (prefect==3.9.1), on SQLite and
// PostgreSQL, one after the other on the same machine, and prints one table
// with our ratio. It also writes the table as JSON and a PNG chart.
//
//	go run ./tools/bench            # full run (< 15 minutes on 2 cores)
//	go run ./tools/bench -quick     # smoke run (about 6 min for all four pairs; -servers/-dbs for fewer)
//
// See docs/bench/README.md for the workloads and how to read the numbers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// config holds the bounds of every workload; -quick shrinks them.
type config struct {
	oursBin, venv, pgAdmin, outDir string
	servers, dbs                   []string
	workloads                      map[string]bool
	readyTimeout                   time.Duration

	clients       []int
	runsPerClient int
	roundTime     time.Duration
	events        int
	storeTime     time.Duration // how long workload 5 waits for its events to be stored
	clientReps    int
	clientTime    time.Duration
	tiers         []tier
	queryReps     int
	queryTime     time.Duration
	deployments   int
	schedTime     time.Duration
	coldReps      int
}

func defaultConfig(quick bool) *config {
	c := &config{
		readyTimeout: 120 * time.Second,
		clients:      []int{1, 16, 64}, runsPerClient: 40, roundTime: 10 * time.Second,
		events: 5000, storeTime: 30 * time.Second, clientReps: 1, clientTime: 40 * time.Second,
		tiers:     []tier{{"1k", 1000, 100}, {"10k", 10000, 1000}, {"100k", 100000, 5000}},
		queryReps: 10, queryTime: 3 * time.Second,
		deployments: 1000, schedTime: 30 * time.Second, coldReps: 2,
	}
	if quick {
		c.runsPerClient, c.roundTime = 5, 4*time.Second
		c.events, c.storeTime, c.clientTime = 2000, 15*time.Second, 20*time.Second
		c.tiers = []tier{{"1k", 1000, 100}, {"10k", 10000, 1000}}
		c.queryReps, c.queryTime = 5, 2*time.Second
		c.deployments, c.schedTime, c.coldReps = 100, 15*time.Second, 1
	}
	return c
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	quick := flag.Bool("quick", false, "smaller, shorter workloads (a smoke run)")
	bin := flag.String("bin", "", "our server binary (default: built from ./cmd/prefect-server)")
	venv := flag.String("venv", "/root/.cache/prefect-venv-3.9.1", "the venv with prefect==3.9.1 (tools/venv.sh)")
	servers := flag.String("servers", "ours,python", "servers to run")
	dbs := flag.String("dbs", "sqlite,postgres", "databases to run")
	workloads := flag.String("workloads", "1,2,3,4,5,6,physical", "workloads to run")
	outDir := flag.String("out", "docs/bench", "where results.json, results.md and chart.png go")
	keep := flag.Bool("keep", false, "keep the work directory (server logs, SQLite files)")
	rerender := flag.String("render", "", "print and re-render the table and chart of a results.json instead of running")
	flag.Parse()
	if *rerender != "" {
		return renderSaved(*rerender, *outDir)
	}

	cfg := defaultConfig(*quick)
	cfg.venv, cfg.outDir = *venv, *outDir
	cfg.servers, cfg.dbs = strings.Split(*servers, ","), strings.Split(*dbs, ",")
	cfg.workloads = map[string]bool{}
	for _, w := range strings.Split(*workloads, ",") {
		cfg.workloads[strings.TrimSpace(w)] = true
	}
	cfg.pgAdmin = os.Getenv("PREFECT_TEST_POSTGRES_URL")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "prefect-bench-")
	if err != nil {
		return err
	}
	if *keep {
		logf("work directory %s is kept", work)
	} else {
		defer os.RemoveAll(work)
	}
	cfg.oursBin = *bin
	if cfg.oursBin == "" {
		cfg.oursBin = filepath.Join(work, "prefect-server")
		build := exec.CommandContext(ctx, "go", "build", "-o", cfg.oursBin, "./cmd/prefect-server")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build our server: %w", err)
		}
	}
	// The commit the server is built from, before anything else can change.
	commit := gitCommit()
	started := time.Now()
	var results []result
	for _, dbKind := range cfg.dbs {
		for _, s := range cfg.servers {
			t := target{kind: serverKind(s), dbKind: dbKind, cfg: cfg}
			logf("%s: start", t)
			results = append(results, runTarget(ctx, t, work)...)
		}
		if cfg.workloads["physical"] {
			logf("driver/%s: physical limit", dbKind)
			home, _ := os.MkdirTemp(work, "physical-")
			results = append(results, physicalLimit(ctx, cfg, dbKind, home)...)
		}
	}
	elapsed := time.Since(started)
	rep := newReport(results, commit, *quick, elapsed)
	rep.print(os.Stdout)
	if err := rep.write(cfg.outDir); err != nil {
		return err
	}
	logf("done in %s; wrote %s", elapsed.Round(time.Second), cfg.outDir)
	return nil
}

// runTarget runs every selected workload on one server and database:
// a first server on a fresh database for workloads 2, 3, 5 and 6, then a
// second one on another fresh database for the seeded reads of workload 4,
// with the cold starts on the empty and on the seeded database.
func runTarget(ctx context.Context, t target, work string) []result {
	var out []result
	w := t.cfg.workloads
	if w["2"] || w["3"] || w["5"] || w["6"] || w["1"] {
		out = append(out, runLive(ctx, t, work)...)
	}
	if w["4"] || w["1"] {
		out = append(out, runSeeded(ctx, t, work)...)
	}
	return out
}

func runLive(ctx context.Context, t target, work string) []result {
	home, err := os.MkdirTemp(work, string(t.kind)+"-"+t.dbKind+"-")
	if err != nil {
		return []result{failed("setup", "", t, err)}
	}
	d, err := newDatabase(ctx, t.dbKind, home, t.cfg)
	if err != nil {
		return []result{failed("setup", "", t, err)}
	}
	defer d.drop(ctx)
	rn, took, err := t.launch(ctx, home, d.serverURL())
	if err != nil {
		return []result{failed("setup", "", t, err)}
	}
	defer rn.stop()
	var out []result
	if t.cfg.workloads["1"] {
		out = append(out, result{Workload: "1 cold start", Variant: "new database (migrations)", Server: string(t.kind),
			Database: t.dbKind, Metric: "s p50", Value: took.Seconds(), Count: 1, P50ms: float64(took.Milliseconds()),
			IdleRSSMiB: mib(rn.idleRSS), Note: "first start creates the schema; RSS idle 2s after ready"})
	}
	steps := []struct {
		id  string
		run func() []result
	}{
		{"2", func() []result { return orchestration(ctx, t, rn) }},
		{"5", func() []result { return eventIngest(ctx, t, rn) }},
		{"3", func() []result { return clientFlows(ctx, t, rn, home) }},
		{"6", func() []result { return scheduler(ctx, t, rn) }},
	}
	for _, s := range steps {
		if t.cfg.workloads[s.id] && ctx.Err() == nil {
			logf("%s: workload %s", t, s.id)
			out = append(out, s.run()...)
		}
	}
	return out
}

func runSeeded(ctx context.Context, t target, work string) []result {
	home, err := os.MkdirTemp(work, string(t.kind)+"-"+t.dbKind+"-seeded-")
	if err != nil {
		return []result{failed("setup", "", t, err)}
	}
	d, err := newDatabase(ctx, t.dbKind, home, t.cfg)
	if err != nil {
		return []result{failed("setup", "", t, err)}
	}
	defer d.drop(ctx)
	// The server's own migrations make the schema the seeds go into.
	rn, _, err := t.launch(ctx, home, d.serverURL())
	if err != nil {
		return []result{failed("setup", "", t, err)}
	}
	rn.stop()
	var out []result
	if t.cfg.workloads["1"] {
		logf("%s: workload 1 (empty)", t)
		out = append(out, coldStart(ctx, t, home, d, "empty database"))
	}
	rn, _, err = t.launch(ctx, home, d.serverURL())
	if err != nil {
		return append(out, failed("4 reads", "", t, err))
	}
	if t.cfg.workloads["4"] || t.cfg.workloads["1"] {
		logf("%s: workload 4", t)
		reads := readPaths(ctx, t, rn, d)
		if t.cfg.workloads["4"] {
			out = append(out, reads...)
		}
	}
	rn.stop()
	if t.cfg.workloads["1"] {
		last := t.cfg.tiers[len(t.cfg.tiers)-1]
		logf("%s: workload 1 (%s runs)", t, last.label)
		out = append(out, coldStart(ctx, t, home, d, last.label+" flow runs"))
	}
	return slices.Clip(out)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
