package db

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/prefect-server/prefect-server/platform/config"
)

// sqlitePragmas are set on every connection. busy_timeout comes first so that
// switching to WAL waits rather than fails when another process holds the file.
var sqlitePragmas = []string{
	"busy_timeout(30000)",
	"journal_mode(WAL)",
	"synchronous(NORMAL)",
	"foreign_keys(1)",
	"temp_store(MEMORY)",
	// All connections' caches together stay under this (process-wide; SQLite
	// recycles cache pages past it rather than failing).
	"soft_heap_limit(25165824)",
}

// Page cache per connection, in KiB (SQLite's negative cache_size). The
// cache lives outside the Go heap and every connection has its own, so the
// caches stay small (SQLite's default 2 MB for readers, twice that for the
// writer): the kernel's page cache holds the file for all of them, and at
// 16 MB each they made up a third of the RSS under load.
const (
	writerCacheKiB = 4000
	readerCacheKiB = 2000
)

func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", readerCacheKiB))
	} else {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", writerCacheKiB))
		// BEGIN IMMEDIATE takes the write lock at the start of a transaction,
		// so a transaction never fails half-way on a lock upgrade.
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(cfg config.Database) (*DB, error) {
	path := cfg.DSN
	if path == "" || path == ":memory:" {
		return openSQLiteMemory()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	writer, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	reader, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU()*2)
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	w := bun.NewDB(writer, sqlitedialect.New())
	r := bun.NewDB(reader, sqlitedialect.New())
	return &DB{DB: w, Read: r, Dialect: config.SQLite}, nil
}

// openSQLiteMemory opens a private in-memory database. One connection serves
// reads and writes: an in-memory database cannot use WAL.
func openSQLiteMemory() (*DB, error) {
	dsn := "file:" + uuid.NewString() + "?mode=memory&cache=shared&_pragma=foreign_keys(1)&_pragma=busy_timeout(30000)"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open in-memory sqlite: %w", err)
	}
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	b := bun.NewDB(sqldb, sqlitedialect.New())
	return &DB{DB: b, Read: b, Dialect: config.SQLite}, nil
}
