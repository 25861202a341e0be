package main

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// physicalLimit writes workload 2's rows for each flow run straight through
// the driver (modernc SQLite as our server uses it; pgx for PostgreSQL) into
// our server's schema, in as many transactions as the server needs calls:
// create + pending state, running, 10 task runs with 3 states each, the
// logs, completed. No HTTP, no JSON, no orchestration: the ceiling.
func physicalLimit(ctx context.Context, cfg *config, dbKind, home string) []result {
	t := target{kind: "driver", dbKind: dbKind, cfg: cfg}
	const workload = "2 orchestration"
	d, err := newDatabase(ctx, dbKind, home, cfg)
	if err != nil {
		return []result{failed(workload, "physical limit", t, err)}
	}
	defer d.drop(ctx)
	up := exec.CommandContext(ctx, cfg.oursBin, "database", "upgrade", "--yes")
	up.Env = serverEnv(home, d.serverURL())
	if out, err := up.CombinedOutput(); err != nil {
		return []result{failed(workload, "physical limit", t, fmt.Errorf("migrate: %v: %s", err, out))}
	}
	db, err := d.open()
	if err != nil {
		return []result{failed(workload, "physical limit", t, err)}
	}
	defer db.Close()
	if dbKind == "postgres" {
		db.SetMaxOpenConns(16)
	}
	flowID := uuid.NewString()
	now := time.Now()
	if _, err := db.ExecContext(ctx, rebind(dbKind, "INSERT INTO flow (id, created, updated, name) VALUES (?, ?, ?, ?)"),
		flowID, tsValue(ours, dbKind, now), tsValue(ours, dbKind, now), "bench-physical"); err != nil {
		return []result{failed(workload, "physical limit", t, err)}
	}
	var out []result
	for _, clients := range cfg.clients {
		var lat latencies
		var done, started atomic.Int64
		var errs atomic.Int64
		var firstErr atomic.Value
		start := time.Now()
		stopAt := start.Add(cfg.roundTime)
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for started.Add(1) <= int64(cfg.runsPerClient*clients) && time.Now().Before(stopAt) && ctx.Err() == nil {
					if err := writeFlowRunRows(ctx, db, dbKind, flowID, &lat); err != nil {
						if ctx.Err() == nil {
							errs.Add(1)
							firstErr.CompareAndSwap(nil, err.Error())
						}
						continue
					}
					done.Add(1)
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		r := result{Workload: workload, Variant: fmt.Sprintf("%d clients", clients), Server: "driver", Database: dbKind,
			Metric: "runs/s", HigherBest: true, Count: int(done.Load()), Seconds: took.Seconds(), Errors: errs.Load(),
			Note: "physical limit: the same rows through the driver, no HTTP"}
		r.Value = float64(done.Load()) / took.Seconds()
		if e := firstErr.Load(); e != nil {
			r.Note += "; first error: " + e.(string)
		}
		r.P50ms, r.P95ms, r.P99ms = lat.percentiles()
		out = append(out, r)
	}
	return out
}

// writeFlowRunRows writes one flow run's rows in five transactions.
func writeFlowRunRows(ctx context.Context, db *sql.DB, dbKind, flowID string, lat *latencies) error {
	// Each state of a run gets its own microsecond: the state tables are
	// unique on (run, timestamp).
	base, tick := time.Now(), 0
	ts := func() any {
		tick++
		return tsValue(ours, dbKind, base.Add(time.Duration(tick)*time.Microsecond))
	}
	runID := uuid.NewString()
	setState := func(tx *sql.Tx, typ, name string, create bool) error {
		stateID := uuid.NewString()
		if create {
			if _, err := tx.ExecContext(ctx, rebind(dbKind, "INSERT INTO flow_run (id, created, updated, name, flow_id) VALUES (?, ?, ?, ?, ?)"),
				runID, ts(), ts(), "physical-"+runID[:8], flowID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, rebind(dbKind, "INSERT INTO flow_run_state (id, created, updated, flow_run_id, type, timestamp, name) VALUES (?, ?, ?, ?, ?, ?, ?)"),
			stateID, ts(), ts(), runID, typ, ts(), name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, rebind(dbKind, "UPDATE flow_run SET state_id = ?, state_type = ?, state_name = ?, state_timestamp = ?, updated = ? WHERE id = ?"),
			stateID, typ, name, ts(), ts(), runID)
		return err
	}
	steps := []func(*sql.Tx) error{
		func(tx *sql.Tx) error { return setState(tx, "PENDING", "Pending", true) },
		func(tx *sql.Tx) error { return setState(tx, "RUNNING", "Running", false) },
		func(tx *sql.Tx) error {
			var runs, states [][]any
			for i := 0; i < tasksPerRun; i++ {
				id := uuid.NewString()
				runs = append(runs, []any{id, ts(), ts(), fmt.Sprintf("bench_task-%d", i), runID, "bench_task-1", fmt.Sprint(i), "COMPLETED", "Completed"})
				for _, s := range [][2]string{{"PENDING", "Pending"}, {"RUNNING", "Running"}, {"COMPLETED", "Completed"}} {
					states = append(states, []any{uuid.NewString(), ts(), ts(), id, s[0], ts(), s[1]})
				}
			}
			if err := insertRows(ctx, tx, dbKind, "task_run", []string{"id", "created", "updated", "name", "flow_run_id", "task_key", "dynamic_key", "state_type", "state_name"}, runs, 100); err != nil {
				return err
			}
			return insertRows(ctx, tx, dbKind, "task_run_state", []string{"id", "created", "updated", "task_run_id", "type", "timestamp", "name"}, states, 100)
		},
		func(tx *sql.Tx) error {
			var logs [][]any
			for i := 0; i < logsPerRun; i++ {
				logs = append(logs, []any{uuid.NewString(), ts(), ts(), "prefect.flow_runs", 20, runID, fmt.Sprintf("bench log line %d", i), ts()})
			}
			return insertRows(ctx, tx, dbKind, "log", []string{"id", "created", "updated", "name", "level", "flow_run_id", "message", "timestamp"}, logs, 100)
		},
		func(tx *sql.Tx) error { return setState(tx, "COMPLETED", "Completed", false) },
	}
	for _, step := range steps {
		start := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := step(tx); err != nil {
			tx.Rollback()
			return fmt.Errorf("physical write: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		lat.add(time.Since(start))
	}
	return nil
}

// rebind turns ? placeholders into $n for PostgreSQL.
func rebind(dbKind, q string) string {
	if dbKind != "postgres" {
		return q
	}
	out := make([]byte, 0, len(q)+8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, fmt.Sprintf("$%d", n)...)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
