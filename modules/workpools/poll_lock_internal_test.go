package workpools

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

// newPollApp starts workpools with a pool "p" holding n scheduled runs in
// its default queue and returns their ids, earliest first.
func newPollApp(t *testing.T, d config.Dialect, n int) (*platformtest.App, []string) {
	t.Helper()
	app := platformtest.New(t, d, flows.Module, runs.Module, events.Module, Module)
	app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "p", "type": "process"}, http.StatusCreated, nil)
	var flow struct {
		ID string `json:"id"`
	}
	app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &flow)
	ids := make([]string, n)
	for i := range ids {
		var run struct {
			ID string `json:"id"`
		}
		at := time.Now().Add(time.Duration(i-n) * time.Minute).UTC().Format(time.RFC3339Nano)
		app.JSON(http.MethodPost, "/api/flow_runs/", map[string]any{"flow_id": flow.ID, "work_pool_name": "p",
			"state": map[string]any{"type": "SCHEDULED", "state_details": map[string]any{"scheduled_time": at}}}, http.StatusCreated, &run)
		ids[i] = run.ID
	}
	return app, ids
}

// pollIDs polls pool "p" over HTTP (safe off the test goroutine).
func pollIDs(app *platformtest.App) ([]string, error) {
	status, body := app.Do(http.MethodPost, "/api/work_pools/p/get_scheduled_flow_runs", map[string]any{})
	if status != http.StatusOK {
		return nil, &pollError{status: status, body: string(body)}
	}
	var got []struct {
		FlowRun struct {
			ID string `json:"id"`
		} `json:"flow_run"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, err
	}
	ids := make([]string, len(got))
	for i, g := range got {
		ids[i] = g.FlowRun.ID
	}
	return ids, nil
}

type pollError struct {
	status int
	body   string
}

func (e *pollError) Error() string { return http.StatusText(e.status) + ": " + e.body }

// A poll whose transaction overlaps another's never gets the runs the other
// holds: PostgreSQL skips the locked rows (FOR UPDATE SKIP LOCKED, as
// Prefect); SQLite makes the second poll wait for the first's write
// transaction.
func TestPollSkipsRunsHeldByAnOverlappingPoll(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app, ids := newPollApp(t, d, 4)
		ctx := context.Background()
		s := &scheduler{store: &store{db: app.DB}}
		tx, err := app.DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		var queues []WorkQueue
		if err := tx.NewSelect().Model(&queues).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		held, err := s.scheduled(ctx, tx, queues, nil, window{}, 2)
		if err != nil || len(held) != 2 || held[0].ID.String() != ids[0] || held[1].ID.String() != ids[1] {
			t.Fatalf("first poll holds %+v, %v; want the two earliest runs", held, err)
		}

		type result struct {
			ids []string
			err error
		}
		done := make(chan result, 1)
		go func() {
			got, err := pollIDs(app)
			done <- result{got, err}
		}()
		if d == config.Postgres {
			r := <-done
			if r.err != nil || len(r.ids) != 2 || r.ids[0] != ids[2] || r.ids[1] != ids[3] {
				t.Fatalf("overlapping poll got %v, %v; want only the unlocked runs %v", r.ids, r.err, ids[2:])
			}
			return
		}
		select {
		case r := <-done:
			t.Fatalf("SQLite poll ran beside an open write transaction: %v, %v", r.ids, r.err)
		case <-time.After(200 * time.Millisecond):
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || len(r.ids) != 4 {
			t.Fatalf("poll after the first committed: %v, %v; want all 4 runs", r.ids, r.err)
		}
	})
}

// Workers polling at the same instant, each proposing PENDING for what it
// got (as the worker does before it starts a run), start every run exactly
// once.
func TestConcurrentPollsStartEachRunOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		const workers, n = 4, 12
		app, ids := newPollApp(t, d, n)
		var (
			mu       sync.Mutex
			accepted = map[string]int{}
			errs     []error
			wg       sync.WaitGroup
			start    = make(chan struct{})
		)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := pollIDs(app)
				for _, id := range got {
					status, body := app.Do(http.MethodPost, "/api/flow_runs/"+id+"/set_state",
						map[string]any{"state": map[string]any{"type": "PENDING"}})
					var res struct {
						Status string `json:"status"`
					}
					if err == nil && (status != http.StatusOK && status != http.StatusCreated || json.Unmarshal(body, &res) != nil) {
						err = &pollError{status: status, body: string(body)}
					}
					mu.Lock()
					if res.Status == "ACCEPT" {
						accepted[id]++
					}
					mu.Unlock()
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("poll errors: %v", errs)
		}
		var started []string
		for id, count := range accepted {
			if count != 1 {
				t.Fatalf("run %s started %d times", id, count)
			}
			started = append(started, id)
		}
		sort.Strings(started)
		want := append([]string(nil), ids...)
		sort.Strings(want)
		if len(started) != len(want) {
			t.Fatalf("started %d runs, want %d", len(started), len(want))
		}
		for i := range want {
			if started[i] != want[i] {
				t.Fatalf("started %v, want %v", started, want)
			}
		}
	})
}
