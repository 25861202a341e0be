// Package dbtest gives each test its own clean database on every dialect:
// a fresh SQLite file always, and a fresh PostgreSQL database when
// PREFECT_TEST_POSTGRES_URL names a server (the project's test command sets
// it; see tools/services.sh).
package dbtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the admin connection
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

// PostgresURLEnv names the admin URL of the test PostgreSQL server.
const PostgresURLEnv = "PREFECT_TEST_POSTGRES_URL"

// Dialects lists the dialects tests run on here.
func Dialects() []config.Dialect {
	if os.Getenv(PostgresURLEnv) == "" {
		return []config.Dialect{config.SQLite}
	}
	return []config.Dialect{config.SQLite, config.Postgres}
}

// Config returns a database config for a new, empty database of dialect,
// dropped when the test ends.
func Config(t testing.TB, dialect config.Dialect) config.Database {
	t.Helper()
	cfg := config.Database{Dialect: dialect, Timeout: 10 * time.Second, ConnectionTimeout: 5 * time.Second,
		PoolSize: 5, MaxOverflow: 10, MigrateOnStart: true}
	switch dialect {
	case config.SQLite:
		cfg.DSN = filepath.Join(t.TempDir(), "prefect.db")
		cfg.URL = "sqlite+aiosqlite:///" + cfg.DSN
	case config.Postgres:
		cfg.DSN = createPostgres(t)
		cfg.URL = cfg.DSN
	}
	return cfg
}

// Open opens a new, empty database of dialect with sets migrated.
func Open(t testing.TB, dialect config.Dialect, sets ...migrate.Set) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, Config(t, dialect), zap.NewNop())
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := migrate.Up(ctx, d, sets, zap.NewNop()); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return d
}

// Each runs fn as a subtest on every available dialect.
func Each(t *testing.T, fn func(t *testing.T, dialect config.Dialect)) {
	for _, d := range Dialects() {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

func createPostgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresURLEnv)
	if admin == "" {
		t.Skipf("%s is not set", PostgresURLEnv)
	}
	name := "test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
