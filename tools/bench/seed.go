package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

// seedTargets are the rows a seeded run may point at: the flow every
// matching run belongs to, and (on a server that has them) its deployment,
// work queue and work pool. Empty ids are left NULL.
type seedTargets struct {
	flowMatch, flowOther string
	deployment, queue    string
	queueName, pool      string
}

// seedFlowRuns writes n flow runs (matching of them pointing at the seed
// targets) and their current states straight into the server's own schema,
// deterministically from seed. Both servers' flow_run and flow_run_state
// tables share these column names.
func seedFlowRuns(ctx context.Context, t target, d *database, st seedTargets, seed uint64, n, matching int) error {
	db, err := d.open()
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	now := time.Now().UTC()
	ts := func(x time.Time) any { return tsValue(t.kind, t.dbKind, x) }
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	states := [][2]string{{"COMPLETED", "Completed"}, {"COMPLETED", "Completed"}, {"COMPLETED", "Completed"},
		{"FAILED", "Failed"}, {"SCHEDULED", "Scheduled"}, {"RUNNING", "Running"}}
	runCols := []string{"id", "created", "updated", "name", "flow_id", "state_id", "state_type", "state_name",
		"state_timestamp", "expected_start_time", "start_time", "end_time", "deployment_id", "work_queue_id",
		"work_queue_name", "run_count"}
	// Prefect stores an interval on SQLite as a datetime after the epoch;
	// its column default ('0') would read back as a number it cannot parse.
	pyInterval := t.kind == python && t.dbKind == "sqlite"
	if pyInterval {
		runCols = append(runCols, "total_run_time")
	}
	stateCols := []string{"id", "created", "updated", "flow_run_id", "type", "timestamp", "name"}
	const chunk = 2000
	for done := 0; done < n; done += chunk {
		size := min(chunk, n-done)
		runs, states2 := make([][]any, 0, size), make([][]any, 0, size)
		for i := 0; i < size; i++ {
			match := (done+i)%max(n/max(matching, 1), 1) == 0 && countMatched(done+i, n, matching)
			id, stateID := uuid.New().String(), uuid.New().String()
			expected := now.Add(-time.Duration(rng.Int64N(int64(7 * 24 * time.Hour))))
			s := states[rng.IntN(len(states))]
			flowID, dep, queue, queueName := st.flowOther, "", "", ""
			if match {
				flowID, dep, queue, queueName = st.flowMatch, st.deployment, st.queue, st.queueName
			}
			var start, end any
			if s[0] != "SCHEDULED" {
				start = ts(expected.Add(time.Second))
			}
			if s[0] == "COMPLETED" || s[0] == "FAILED" {
				end = ts(expected.Add(time.Duration(1+rng.IntN(120)) * time.Second))
			}
			row := []any{id, ts(expected), ts(expected), fmt.Sprintf("seeded-%d", done+i), flowID, stateID,
				s[0], s[1], ts(expected), ts(expected), start, end, nullable(dep), nullable(queue), nullable(queueName), 1}
			if pyInterval {
				row = append(row, ts(time.Unix(0, 0)))
			}
			runs = append(runs, row)
			states2 = append(states2, []any{stateID, ts(expected), ts(expected), id, s[0], ts(expected), s[1]})
		}
		if err := seedTx(ctx, db, d.kind, func(tx *sql.Tx) error {
			if err := insertRows(ctx, tx, d.kind, "flow_run", runCols, runs, 500); err != nil {
				return err
			}
			return insertRows(ctx, tx, d.kind, "flow_run_state", stateCols, states2, 500)
		}); err != nil {
			return err
		}
	}
	return nil
}

// countMatched keeps exactly `matching` of the evenly spread candidates.
func countMatched(i, n, matching int) bool {
	step := max(n/max(matching, 1), 1)
	return i/step < matching
}

// seedTx runs fn in one transaction; on PostgreSQL foreign keys are not
// checked in it, since flow_run and flow_run_state point at each other.
func seedTx(ctx context.Context, db *sql.DB, dbKind string, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer tx.Rollback()
	if dbKind == "postgres" {
		if _, err := tx.ExecContext(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
