// Package suite holds the driver-independent SQLite benchmarks. Each driver
// lives in its own package (modernc/, mattn/, ncruces/) so that every test
// binary links exactly one SQLite implementation: mattn and ncruces both
// register the database/sql name "sqlite3", and per-process RSS stays per driver.
package suite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// Driver describes one SQLite driver under test.
type Driver struct {
	Name      string // short name used in benchmark names
	SQLName   string // database/sql driver name
	WriterDSN func(path string) string
	ReaderDSN func(path string) string // read pool: same pragmas + query_only
}

func (d Driver) open(dsn string, maxConns int) (*sql.DB, error) {
	db, err := sql.Open(d.SQLName, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(0)
	return db, db.Ping()
}

// OpenWriter opens the single-connection writer pool, as the server does.
func (d Driver) OpenWriter(path string) (*sql.DB, error) { return d.open(d.WriterDSN(path), 1) }

// OpenReader opens the read pool with up to n connections.
func (d Driver) OpenReader(path string, n int) (*sql.DB, error) {
	return d.open(d.ReaderDSN(path), n)
}

// ---- schema and rows -------------------------------------------------------

const schema = `
CREATE TABLE IF NOT EXISTS flow (
	id   TEXT PRIMARY KEY,
	name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_run (
	id                  TEXT PRIMARY KEY,
	created             TEXT NOT NULL,
	updated             TEXT NOT NULL,
	name                TEXT NOT NULL,
	flow_id             TEXT NOT NULL REFERENCES flow(id) ON DELETE CASCADE,
	deployment_id       TEXT,
	work_queue_name     TEXT,
	state_type          TEXT,
	state_name          TEXT,
	state_timestamp     TEXT,
	run_count           INTEGER NOT NULL DEFAULT 0,
	expected_start_time TEXT,
	start_time          TEXT,
	total_run_time      REAL NOT NULL DEFAULT 0,
	parameters          TEXT NOT NULL DEFAULT '{}',
	tags                TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS ix_flow_run_flow_id ON flow_run (flow_id);
CREATE INDEX IF NOT EXISTS ix_flow_run_state_expected ON flow_run (state_type, expected_start_time);
CREATE TABLE IF NOT EXISTS events (
	id          TEXT PRIMARY KEY,
	occurred    TEXT NOT NULL,
	event       TEXT NOT NULL,
	resource_id TEXT NOT NULL,
	resource    TEXT NOT NULL,
	related     TEXT NOT NULL,
	payload     TEXT NOT NULL,
	received    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_events_occurred ON events (occurred);
CREATE INDEX IF NOT EXISTS ix_events_event_occurred ON events (event, occurred);
`

// FlowRun is a flow_run-like row: uuid text pk, 16 columns, text timestamps, JSON text.
type FlowRun struct {
	bun.BaseModel `bun:"table:flow_run"`

	ID                string  `bun:"id,pk"`
	Created           string  `bun:"created"`
	Updated           string  `bun:"updated"`
	Name              string  `bun:"name"`
	FlowID            string  `bun:"flow_id"`
	DeploymentID      *string `bun:"deployment_id"`
	WorkQueueName     string  `bun:"work_queue_name"`
	StateType         string  `bun:"state_type"`
	StateName         string  `bun:"state_name"`
	StateTimestamp    string  `bun:"state_timestamp"`
	RunCount          int64   `bun:"run_count"`
	ExpectedStartTime string  `bun:"expected_start_time"`
	StartTime         *string `bun:"start_time"`
	TotalRunTime      float64 `bun:"total_run_time"`
	Parameters        string  `bun:"parameters"`
	Tags              string  `bun:"tags"`
}

const flowRunCols = `id, created, updated, name, flow_id, deployment_id, work_queue_name, state_type,
	state_name, state_timestamp, run_count, expected_start_time, start_time, total_run_time, parameters, tags`

var (
	insertFlowRunSQL = `INSERT INTO flow_run (` + flowRunCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	selectFlowRunSQL = `SELECT ` + flowRunCols + ` FROM flow_run WHERE id = ?`
)

func (r *FlowRun) args() []any {
	return []any{r.ID, r.Created, r.Updated, r.Name, r.FlowID, r.DeploymentID, r.WorkQueueName,
		r.StateType, r.StateName, r.StateTimestamp, r.RunCount, r.ExpectedStartTime, r.StartTime,
		r.TotalRunTime, r.Parameters, r.Tags}
}

func (r *FlowRun) dest() []any {
	return []any{&r.ID, &r.Created, &r.Updated, &r.Name, &r.FlowID, &r.DeploymentID, &r.WorkQueueName,
		&r.StateType, &r.StateName, &r.StateTimestamp, &r.RunCount, &r.ExpectedStartTime, &r.StartTime,
		&r.TotalRunTime, &r.Parameters, &r.Tags}
}

// Event is an event-like row for the batched insert.
type Event struct {
	bun.BaseModel `bun:"table:events"`

	ID         string `bun:"id,pk"`
	Occurred   string `bun:"occurred"`
	Event      string `bun:"event"`
	ResourceID string `bun:"resource_id"`
	Resource   string `bun:"resource"`
	Related    string `bun:"related"`
	Payload    string `bun:"payload"`
	Received   string `bun:"received"`
}

const insertEventSQL = `INSERT INTO events (id, occurred, event, resource_id, resource, related, payload, received) VALUES (?,?,?,?,?,?,?,?)`

const tsLayout = "2006-01-02T15:04:05.000000Z" // the server's fixed-width text timestamp

var (
	baseTime   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	stateTypes = []string{"SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"}
	queues     = []string{"default", "high", "low", "gpu"}
	flowIDs    = []string{
		"7d0e7a8f-5a7e-4a0a-9a3c-000000000001", "7d0e7a8f-5a7e-4a0a-9a3c-000000000002",
		"7d0e7a8f-5a7e-4a0a-9a3c-000000000003", "7d0e7a8f-5a7e-4a0a-9a3c-000000000004",
	}
	seq atomic.Int64
)

func ts(minutes int) string {
	return baseTime.Add(time.Duration(minutes) * time.Minute).Format(tsLayout)
}

// NewFlowRun builds the i-th flow run. state_type and expected_start_time are
// deterministic in i so that the COUNT query always matches the same rows.
func NewFlowRun(i int) FlowRun {
	now := time.Now().UTC().Format(tsLayout)
	st := stateTypes[i%len(stateTypes)]
	var start *string
	if st != "SCHEDULED" && st != "PENDING" {
		s := ts(i + 1)
		start = &s
	}
	dep := "3f1c2b9e-0000-4000-8000-" + fmt.Sprintf("%012d", i%50)
	return FlowRun{
		ID:                uuid.NewString(),
		Created:           now,
		Updated:           now,
		Name:              "crimson-octopus-" + strconv.Itoa(i),
		FlowID:            flowIDs[i%len(flowIDs)],
		DeploymentID:      &dep,
		WorkQueueName:     queues[i%len(queues)],
		StateType:         st,
		StateName:         strings.ToUpper(st[:1]) + strings.ToLower(st[1:]),
		StateTimestamp:    now,
		RunCount:          int64(i % 3),
		ExpectedStartTime: ts(i),
		StartTime:         start,
		TotalRunTime:      float64(i%600) + 0.25,
		Parameters:        `{"date":"2025-01-01","retries":3,"source":{"bucket":"s3://data/raw","prefix":"events/` + strconv.Itoa(i) + `"},"dry_run":false}`,
		Tags:              `["etl","nightly","team:data"]`,
	}
}

// NewEvent builds an event-like row.
func NewEvent() Event {
	n := seq.Add(1)
	now := time.Now().UTC().Format(tsLayout)
	rid := "prefect.flow-run." + uuid.NewString()
	return Event{
		ID:         uuid.NewString(),
		Occurred:   now,
		Event:      "prefect.flow-run.Completed",
		ResourceID: rid,
		Resource:   `{"prefect.resource.id":"` + rid + `","prefect.resource.name":"crimson-octopus-` + strconv.FormatInt(n, 10) + `","prefect.state-type":"COMPLETED"}`,
		Related:    `[{"prefect.resource.id":"prefect.flow.7d0e7a8f","prefect.resource.role":"flow"},{"prefect.resource.id":"prefect.tag.etl","prefect.resource.role":"tag"}]`,
		Payload:    `{"intended":{"from":"RUNNING","to":"COMPLETED"},"initial_state":{"type":"RUNNING","name":"Running"},"validated_state":{"type":"COMPLETED","name":"Completed"}}`,
		Received:   now,
	}
}

// ---- environment helpers ---------------------------------------------------

// Env is one database file with a writer pool and an optional read pool.
type Env struct {
	Path   string
	W      *sql.DB
	BW     *bun.DB
	R      *sql.DB
	BR     *bun.DB
	driver Driver
}

// NewEnv creates the schema in path and opens the writer pool (and a read pool
// of readers connections when readers > 0).
func NewEnv(d Driver, path string, readers int) (*Env, error) {
	w, err := d.OpenWriter(path)
	if err != nil {
		return nil, fmt.Errorf("%s: open writer: %w", d.Name, err)
	}
	if _, err := w.Exec(schema); err != nil {
		return nil, fmt.Errorf("%s: schema: %w", d.Name, err)
	}
	for i, id := range flowIDs {
		if _, err := w.Exec(`INSERT OR IGNORE INTO flow (id, name) VALUES (?, ?)`, id, "flow-"+strconv.Itoa(i)); err != nil {
			return nil, err
		}
	}
	e := &Env{Path: path, W: w, BW: bun.NewDB(w, sqlitedialect.New()), driver: d}
	if readers > 0 {
		r, err := d.OpenReader(path, readers)
		if err != nil {
			return nil, fmt.Errorf("%s: open reader: %w", d.Name, err)
		}
		e.R, e.BR = r, bun.NewDB(r, sqlitedialect.New())
	}
	return e, nil
}

// Close closes both pools.
func (e *Env) Close() {
	if e.R != nil {
		e.R.Close()
	}
	e.W.Close()
}

// SeedFlowRuns inserts n flow runs (index from..from+n) in 500-row transactions
// and returns their ids.
func (e *Env) SeedFlowRuns(ctx context.Context, from, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for i := from; i < from+n; {
		tx, err := e.W.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		stmt, err := tx.PrepareContext(ctx, insertFlowRunSQL)
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		for j := 0; j < 500 && i < from+n; j, i = j+1, i+1 {
			r := NewFlowRun(i)
			if _, err := stmt.ExecContext(ctx, r.args()...); err != nil {
				tx.Rollback()
				return nil, err
			}
			ids = append(ids, r.ID)
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// ---- the operations, one per API -------------------------------------------

func insertOneSQL(ctx context.Context, db *sql.DB, r *FlowRun) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insertFlowRunSQL, r.args()...); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func insertOneBun(ctx context.Context, db *bun.DB, r *FlowRun) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(r).Exec(ctx)
		return err
	})
}

func insertBatchSQL(ctx context.Context, db *sql.DB, rows []Event) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		tx.Rollback()
		return err
	}
	for i := range rows {
		r := &rows[i]
		if _, err := stmt.ExecContext(ctx, r.ID, r.Occurred, r.Event, r.ResourceID, r.Resource, r.Related, r.Payload, r.Received); err != nil {
			tx.Rollback()
			return err
		}
	}
	stmt.Close()
	return tx.Commit()
}

// insertBatchBun is what bun does with a slice model: one multi-row INSERT.
func insertBatchBun(ctx context.Context, db *bun.DB, rows []Event) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&rows).Exec(ctx)
		return err
	})
}

func getSQL(ctx context.Context, db *sql.DB, id string) (FlowRun, error) {
	var r FlowRun
	err := db.QueryRowContext(ctx, selectFlowRunSQL, id).Scan(r.dest()...)
	return r, err
}

func getBun(ctx context.Context, db *bun.DB, id string) (FlowRun, error) {
	var r FlowRun
	err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	return r, err
}

// The COUNT filters: "index" is answered from the (state_type,
// expected_start_time) index alone; "lookup" adds a column that is not in the
// index, so every candidate row is also read from the table.
const (
	countIndexSQL  = `SELECT count(*) FROM flow_run WHERE state_type = ? AND expected_start_time >= ?`
	countLookupSQL = `SELECT count(*) FROM flow_run WHERE state_type = ? AND expected_start_time >= ? AND work_queue_name = ?`
)

var countFrom = ts(50_000) // half of the 100k rows

func countSQL(ctx context.Context, db *sql.DB, lookup bool) (int, error) {
	var n int
	var err error
	if lookup {
		err = db.QueryRowContext(ctx, countLookupSQL, "COMPLETED", countFrom, "high").Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, countIndexSQL, "COMPLETED", countFrom).Scan(&n)
	}
	return n, err
}

func countBun(ctx context.Context, db *bun.DB, lookup bool) (int, error) {
	q := db.NewSelect().Model((*FlowRun)(nil)).
		Where("state_type = ?", "COMPLETED").
		Where("expected_start_time >= ?", countFrom)
	if lookup {
		q = q.Where("work_queue_name = ?", "high")
	}
	n, err := q.Count(ctx)
	return int(n), err
}

// ---- shared seeded databases (one per process = one per driver) -----------

var (
	sharedDir  string
	sharedOnce sync.Once
	sharedErr  error
	countEnv   *Env     // 100k flow runs, read-only during benchmarks
	pointPath  string   // 10k flow runs, grows while the point-select writer runs
	pointIDs   []string // ids of the 10k seeded rows
)

const (
	countRows = 100_000
	pointRows = 10_000
	maxReader = 8
)

func shared(b *testing.B, d Driver) {
	sharedOnce.Do(func() {
		ctx := context.Background()
		sharedDir, sharedErr = os.MkdirTemp("", "sqlitebench-"+d.Name+"-")
		if sharedErr != nil {
			return
		}
		countEnv, sharedErr = NewEnv(d, filepath.Join(sharedDir, "count.db"), 1)
		if sharedErr != nil {
			return
		}
		if _, sharedErr = countEnv.SeedFlowRuns(ctx, 0, countRows); sharedErr != nil {
			return
		}
		if _, sharedErr = countEnv.W.Exec(`ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)`); sharedErr != nil {
			return
		}
		pointPath = filepath.Join(sharedDir, "point.db")
		var pe *Env
		if pe, sharedErr = NewEnv(d, pointPath, 0); sharedErr != nil {
			return
		}
		pointIDs, sharedErr = pe.SeedFlowRuns(ctx, 0, pointRows)
		pe.Close()
	})
	if sharedErr != nil {
		b.Fatal(sharedErr)
	}
}

// Cleanup removes the shared databases; call it from TestMain.
func Cleanup() {
	if countEnv != nil {
		countEnv.Close()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
}

// ---- benchmarks ------------------------------------------------------------

// Run runs every benchmark for driver d as sub-benchmarks named
// op=.../api=... so that benchstat can pivot on /driver, /op and /api.
func Run(b *testing.B, d Driver) {
	for _, api := range []string{"sql", "bun"} {
		b.Run("op=InsertTx/api="+api, func(b *testing.B) { benchInsertTx(b, d, api) })
	}
	for _, api := range []string{"sql", "bun"} {
		b.Run("op=Batch500/api="+api, func(b *testing.B) { benchBatch(b, d, api) })
	}
	for _, readers := range []int{1, 8} {
		for _, api := range []string{"sql", "bun"} {
			b.Run(fmt.Sprintf("op=PointSelect%d/api=%s", readers, api), func(b *testing.B) { benchPoint(b, d, api, readers) })
		}
	}
	for _, kind := range []string{"index", "lookup"} {
		for _, api := range []string{"sql", "bun"} {
			b.Run(fmt.Sprintf("op=Count100k-%s/api=%s", kind, api), func(b *testing.B) { benchCount(b, d, api, kind == "lookup") })
		}
	}
}

func benchInsertTx(b *testing.B, d Driver, api string) {
	ctx := context.Background()
	e, err := NewEnv(d, filepath.Join(b.TempDir(), "insert.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	rows := make([]FlowRun, b.N)
	for i := range rows {
		rows[i] = NewFlowRun(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if api == "sql" {
			err = insertOneSQL(ctx, e.W, &rows[i])
		} else {
			err = insertOneBun(ctx, e.BW, &rows[i])
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

func benchBatch(b *testing.B, d Driver, api string) {
	const batch = 500
	ctx := context.Background()
	e, err := NewEnv(d, filepath.Join(b.TempDir(), "batch.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	rows := make([]Event, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range rows {
			rows[j] = NewEvent()
		}
		b.StartTimer()
		if api == "sql" {
			err = insertBatchSQL(ctx, e.W, rows)
		} else {
			err = insertBatchBun(ctx, e.BW, rows)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}

// writeRate is the background writer's target during the point-select
// benchmarks: fixed, so that every driver's readers compete with the same load.
const writeRate = 500 // inserts per second, each in its own transaction

func benchPoint(b *testing.B, d Driver, api string, readers int) {
	shared(b, d)
	ctx := context.Background()
	e, err := NewEnv(d, pointPath, maxReader)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()

	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the one writer
		defer wg.Done()
		t := time.NewTicker(time.Second / writeRate)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			r := NewFlowRun(pointRows + i)
			var err error
			if api == "sql" {
				err = insertOneSQL(ctx, e.W, &r)
			} else {
				err = insertOneBun(ctx, e.BW, &r)
			}
			if err != nil {
				b.Error(err)
				return
			}
			writes.Add(1)
		}
	}()

	var next atomic.Int64
	var rg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	w0 := writes.Load()
	for g := 0; g < readers; g++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for next.Add(1) <= int64(b.N) {
				id := pointIDs[rand.IntN(len(pointIDs))]
				var r FlowRun
				var err error
				if api == "sql" {
					r, err = getSQL(ctx, e.R, id)
				} else {
					r, err = getBun(ctx, e.BR, id)
				}
				if err != nil || r.ID != id {
					b.Errorf("get %s: %v (got %q)", id, err, r.ID)
					return
				}
			}
		}()
	}
	rg.Wait()
	b.StopTimer()
	el := time.Since(start).Seconds()
	w := writes.Load() - w0
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(b.N)/el, "reads/s")
	b.ReportMetric(float64(w)/el, "writes/s")
}

func benchCount(b *testing.B, d Driver, api string, lookup bool) {
	shared(b, d)
	ctx := context.Background()
	want := -1
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n int
		var err error
		if api == "sql" {
			n, err = countSQL(ctx, countEnv.R, lookup)
		} else {
			n, err = countBun(ctx, countEnv.BR, lookup)
		}
		if err != nil {
			b.Fatal(err)
		}
		if want < 0 {
			want = n
		} else if n != want || n == 0 {
			b.Fatalf("count %d, want %d", n, want)
		}
	}
}

// ---- process-level facts printed by TestMain ---------------------------------

// RSSKB returns the named field (VmRSS, VmHWM) of /proc/self/status in KiB.
func RSSKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}

// Describe prints the SQLite version and the memory cost of 16 open
// connections, each having run one point query, on a fresh database.
func Describe(d Driver) error {
	dir, err := os.MkdirTemp("", "sqlitebench-describe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e, err := NewEnv(d, filepath.Join(dir, "d.db"), 16)
	if err != nil {
		return err
	}
	defer e.Close()
	ids, err := e.SeedFlowRuns(context.Background(), 0, 1000)
	if err != nil {
		return err
	}
	var version string
	if err := e.W.QueryRow(`SELECT sqlite_version()`).Scan(&version); err != nil {
		return err
	}
	before := RSSKB("VmRSS")
	conns := make([]*sql.Conn, 16)
	for i := range conns {
		c, err := e.R.Conn(context.Background())
		if err != nil {
			return err
		}
		conns[i] = c
		var name string
		if err := c.QueryRowContext(context.Background(), `SELECT name FROM flow_run WHERE id = ?`, ids[i]).Scan(&name); err != nil {
			return err
		}
	}
	after := RSSKB("VmRSS")
	for _, c := range conns {
		c.Close()
	}
	fmt.Printf("# driver=%s sqlite_version=%s rss_per_read_conn_KiB=%d\n", d.Name, version, (after-before)/16)
	return nil
}

// CheckDSN verifies that the driver's DSNs really set WAL, synchronous=NORMAL,
// busy_timeout=5000, foreign_keys, query_only on the read pool, and that a
// transaction begins IMMEDIATE (takes the write lock at BEGIN).
func CheckDSN(t *testing.T, d Driver) {
	path := filepath.Join(t.TempDir(), "check.db")
	e, err := NewEnv(d, path, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pragma := func(db *sql.DB, name string) string {
		var v string
		if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return strings.ToLower(v)
	}
	for _, db := range []*sql.DB{e.W, e.R} {
		for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "busy_timeout": "5000", "foreign_keys": "1"} {
			if got := pragma(db, name); got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", d.Name, name, got, want)
			}
		}
	}
	if got := pragma(e.R, "query_only"); got != "1" {
		t.Errorf("%s: reader query_only = %s", d.Name, got)
	}
	if got := pragma(e.W, "query_only"); got != "0" {
		t.Errorf("%s: writer query_only = %s", d.Name, got)
	}
	r := NewFlowRun(1)
	r.FlowID = "no-such-flow"
	if err := insertOneSQL(context.Background(), e.W, &r); err == nil {
		t.Errorf("%s: foreign key not enforced", d.Name)
	}
	if _, err := e.R.Exec(`DELETE FROM flow`); err == nil {
		t.Errorf("%s: read pool accepted a write", d.Name)
	}
	// _txlock=immediate: while tx1 is open (no statement yet), a BEGIN on
	// another connection with busy_timeout=0 must fail with SQLITE_BUSY.
	tx1, err := e.W.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback()
	other, err := d.OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`PRAGMA busy_timeout = 0`); err != nil {
		t.Fatal(err)
	}
	tx2, err := other.Begin()
	if err == nil {
		tx2.Rollback()
		t.Errorf("%s: second BEGIN succeeded while a transaction was open: BEGIN is not IMMEDIATE", d.Name)
	} else if !strings.Contains(strings.ToLower(err.Error()), "busy") && !strings.Contains(strings.ToLower(err.Error()), "locked") {
		t.Errorf("%s: unexpected error %v", d.Name, err)
	}
}
