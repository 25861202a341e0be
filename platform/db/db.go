// Package db opens the server's database (SQLite or PostgreSQL) through Bun,
// translates driver errors into shared values, and traces queries.
package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
)

// DB is the server's database. Writes go through the embedded *bun.DB; reads
// that may run concurrently with writes should use Read. On PostgreSQL both are
// the same pool. On SQLite the writer is a single connection, so writers queue
// in Go instead of failing with "database is locked", and Read is a pool of
// read-only connections that WAL lets run beside the writer.
type DB struct {
	*bun.DB
	Read    *bun.DB
	Dialect config.Dialect
}

// Open connects to the configured database and checks that it answers.
func Open(ctx context.Context, cfg config.Database, log *zap.Logger) (*DB, error) {
	var (
		d   *DB
		err error
	)
	switch cfg.Dialect {
	case config.SQLite:
		d, err = openSQLite(cfg)
	case config.Postgres:
		d, err = openPostgres(cfg)
	default:
		return nil, fmt.Errorf("open database: unsupported dialect %q", cfg.Dialect)
	}
	if err != nil {
		return nil, err
	}
	hook := newTraceHook(string(cfg.Dialect))
	d.DB.AddQueryHook(hook)
	if d.Read != d.DB {
		d.Read.AddQueryHook(hook)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectionTimeout)
	defer cancel()
	if err := d.DB.PingContext(pingCtx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("connect to %s database: %w", cfg.Dialect, err)
	}
	log.Debug("database open", zap.String("dialect", string(cfg.Dialect)))
	return d, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	var errs []error
	if d.Read != nil && d.Read != d.DB {
		errs = append(errs, d.Read.Close())
	}
	errs = append(errs, d.DB.Close())
	return errors.Join(errs...)
}

// IsSQLite and IsPostgres let the one dialect helper of a query branch.
func (d *DB) IsSQLite() bool   { return d.Dialect == config.SQLite }
func (d *DB) IsPostgres() bool { return d.Dialect == config.Postgres }

// Tx runs fn in a write transaction.
func (d *DB) Tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return d.DB.RunInTx(ctx, nil, fn)
}
