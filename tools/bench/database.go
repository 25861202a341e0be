package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", the one our server uses
)

// database is one fresh database for one server run: a SQLite file in the
// run's home, or a PostgreSQL database created on the shared service.
type database struct {
	kind    string
	path    string // SQLite file
	pgName  string
	pgAdmin string
}

var dbSeq atomic.Int64

func newDatabase(ctx context.Context, kind, home string, cfg *config) (*database, error) {
	switch kind {
	case "sqlite":
		return &database{kind: kind, path: filepath.Join(home, "prefect.db")}, nil
	case "postgres":
		if cfg.pgAdmin == "" {
			return nil, fmt.Errorf("postgres: PREFECT_TEST_POSTGRES_URL is not set (eval \"$(tools/services.sh up)\")")
		}
		d := &database{kind: kind, pgAdmin: cfg.pgAdmin,
			pgName: fmt.Sprintf("bench_%d_%d", os.Getpid(), dbSeq.Add(1))}
		if err := d.adminExec(ctx, "DROP DATABASE IF EXISTS "+d.pgName, "CREATE DATABASE "+d.pgName); err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("unknown database %q", kind)
}

func (d *database) adminExec(ctx context.Context, stmts ...string) error {
	db, err := sql.Open("pgx", d.pgAdmin)
	if err != nil {
		return fmt.Errorf("postgres admin: %w", err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("postgres admin %q: %w", s, err)
		}
	}
	return nil
}

// pgURL is the admin URL pointed at this run's database.
func (d *database) pgURL() string {
	u, _ := url.Parse(d.pgAdmin)
	u.Path = "/" + d.pgName
	return u.String()
}

// serverURL is the SQLAlchemy-style URL both servers read.
func (d *database) serverURL() string {
	if d.kind == "sqlite" {
		return "sqlite+aiosqlite:///" + d.path
	}
	u, _ := url.Parse(d.pgURL())
	u.Scheme = "postgresql+asyncpg"
	u.RawQuery = "" // asyncpg takes no sslmode parameter
	return u.String()
}

// open connects straight through the driver, for seeding and for the
// physical-limit writes.
func (d *database) open() (*sql.DB, error) {
	if d.kind == "sqlite" {
		db, err := sql.Open("sqlite", "file:"+d.path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1) // one writer, as the servers do
		return db, nil
	}
	return sql.Open("pgx", d.pgURL())
}

func (d *database) drop(ctx context.Context) {
	if d.kind != "postgres" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	// A server killed hard may leave sessions behind.
	_ = d.adminExec(ctx,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+d.pgName+"'",
		"DROP DATABASE IF EXISTS "+d.pgName)
}

// tsFormat is how a server stores a timestamp on SQLite: ours writes
// RFC 3339 text, Prefect's SQLAlchemy type a space-separated naive UTC.
// On PostgreSQL both use timestamptz, so time.Time goes as it is.
func tsValue(kind serverKind, dbKind string, t time.Time) any {
	if dbKind == "postgres" {
		return t.UTC()
	}
	if kind == python {
		return t.UTC().Format("2006-01-02 15:04:05.000000")
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// placeholders renders "(?, ?), (?, ?)" or "($1, $2), ($3, $4)".
func placeholders(dbKind string, rows, cols int) string {
	var b strings.Builder
	n := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			if dbKind == "postgres" {
				fmt.Fprintf(&b, "$%d", n)
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// insertRows writes rows in multi-row INSERTs of at most batch rows.
func insertRows(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, dbKind, table string, cols []string, rows [][]any, batch int) error {
	for start := 0; start < len(rows); start += batch {
		chunk := rows[start:min(start+batch, len(rows))]
		args := make([]any, 0, len(chunk)*len(cols))
		for _, r := range chunk {
			args = append(args, r...)
		}
		stmt := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(cols, ", "), placeholders(dbKind, len(chunk), len(cols)))
		if _, err := q.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}
