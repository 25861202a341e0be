package filter_test

import (
	"database/sql"
	"encoding/json"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" for a PostgreSQL bun.DB that never connects
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // "sqlite" for a SQLite bun.DB that never connects

	"github.com/prefect-server/prefect-server/platform/filter"
)

// benchFilter is a flow-run-like filter body: what /flow_runs/filter turns
// into SQL on every call.
type benchFilter struct {
	Operator filter.Operator `json:"operator"`
	ID       *filter.IDs     `json:"id"`
	Name     *filter.Names   `json:"name"`
	Tags     *filter.Tags    `json:"tags"`
	FlowID   *filter.IDs     `json:"flow_id"`
}

const benchFilterJSON = `{
	"operator": "and_",
	"id": {"not_any_": ["5a1a7d1e-4c4b-4a43-9a55-0d1d3c8f6a11"]},
	"name": {"like_": "nightly", "startswith_": ["etl-", "load-"]},
	"tags": {"operator": "and_", "all_": ["prod", "etl"], "is_null_": false},
	"flow_id": {"any_": ["0b1f6c55-9d0e-4d0e-8b8f-3c1c6d7c1e21", "7e3b1c2a-0a4f-4b7e-9c1d-2f5e6a7b8c9d"]}
}`

// BenchmarkFilterToSQL decodes a filter body, builds its Where and renders
// the SELECT on each dialect, without a database. Compare commits with
// benchstat (docs/bench/README.md).
func BenchmarkFilterToSQL(b *testing.B) {
	for _, tc := range []struct {
		name   string
		driver string
		dsn    string
		newDB  func(*sql.DB) *bun.DB
	}{
		{"sqlite", "sqlite", ":memory:", func(s *sql.DB) *bun.DB { return bun.NewDB(s, sqlitedialect.New()) }},
		{"postgres", "pgx", "postgres://bench@127.0.0.1:1/none", func(s *sql.DB) *bun.DB { return bun.NewDB(s, pgdialect.New()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sqldb, err := sql.Open(tc.driver, tc.dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer sqldb.Close()
			db := tc.newDB(sqldb)
			b.ReportAllocs()
			for b.Loop() {
				var f benchFilter
				if err := json.Unmarshal([]byte(benchFilterJSON), &f); err != nil {
					b.Fatal(err)
				}
				w := filter.WithOperator(string(f.Operator)).
					Group(f.ID.Where("flow_run.id")).
					Group(f.Name.Where("flow_run.name")).
					Group(f.Tags.Where("flow_run.tags")).
					Group(f.FlowID.Where("flow_run.flow_id"))
				q := w.Apply(db.NewSelect().Table("flow_run").Column("flow_run.id").Limit(200))
				if len(q.String()) == 0 {
					b.Fatal("empty query")
				}
			}
		})
	}
}
