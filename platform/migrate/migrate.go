// Package migrate applies the SQL migrations that modules contribute, once
// each, in ID order across all modules, on SQLite and PostgreSQL.
//
// We use a small runner of our own rather than bun/migrate: it applies each
// migration and records it in one transaction under a database lock
// (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so a crash can
// never leave a migration marked applied but not run, nor a stale lock row.
package migrate

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/migrations"
	"github.com/prefect-server/prefect-server/platform/db"
)

// Set is one module's migrations: FS holds, under Dir, a directory per
// dialect, "sqlite" and "postgres", each with files named "<id>.sql". IDs must be unique across
// modules; they sort in the order they must run (use a date prefix, e.g.
// "20261125_01_flows").
type Set struct {
	Module string
	FS     fs.FS
	Dir    string
}

// Migration is one file ready to apply.
type Migration struct {
	ID     string
	Module string
	SQL    string
}

// advisoryLockKey is an arbitrary constant shared by every server process.
const advisoryLockKey = 727_2026

// Collect reads the migrations of every set for one dialect, sorted by ID.
func Collect(dialect string, sets []Set) ([]Migration, error) {
	var all []Migration
	seen := map[string]string{}
	for _, s := range sets {
		dir := path.Join(s.Dir, dialect)
		entries, err := fs.ReadDir(s.FS, dir)
		if err != nil {
			return nil, fmt.Errorf("read %s migrations of %s: %w", dialect, s.Module, err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
				continue
			}
			id := strings.TrimSuffix(e.Name(), ".sql")
			if other, dup := seen[id]; dup {
				return nil, fmt.Errorf("migration id %q is used by both %s and %s", id, other, s.Module)
			}
			seen[id] = s.Module
			body, err := fs.ReadFile(s.FS, path.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("read migration %s: %w", id, err)
			}
			all = append(all, Migration{ID: id, Module: s.Module, SQL: string(body)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all, nil
}

// Up applies every migration of sets that the database has not recorded yet.
// It returns the IDs it applied.
func Up(ctx context.Context, d *db.DB, sets []Set, log *zap.Logger) ([]string, error) {
	dialect := string(d.Dialect)
	bootstrap, err := fs.ReadFile(migrations.Bootstrap, path.Join(dialect, "bootstrap.sql"))
	if err != nil {
		return nil, fmt.Errorf("read bootstrap migration: %w", err)
	}
	if _, err := d.ExecContext(ctx, string(bootstrap)); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	all, err := Collect(dialect, sets)
	if err != nil {
		return nil, err
	}
	applied, err := appliedIDs(ctx, d.DB)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range all {
		if applied[m.ID] {
			continue
		}
		ran, err := apply(ctx, d, m)
		if err != nil {
			return done, err
		}
		if ran {
			log.Info("migration applied", zap.String("id", m.ID), zap.String("module", m.Module))
			done = append(done, m.ID)
		}
	}
	return done, nil
}

func appliedIDs(ctx context.Context, idb bun.IDB) (map[string]bool, error) {
	var ids []string
	if err := idb.NewSelect().Table("schema_migrations").Column("id").Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// apply runs one migration and records it atomically. It re-checks under the
// lock, since another process may have applied it meanwhile.
func apply(ctx context.Context, d *db.DB, m Migration) (bool, error) {
	ran := false
	err := d.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if d.IsPostgres() {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", advisoryLockKey); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		n, err := tx.NewSelect().Table("schema_migrations").Where("id = ?", m.ID).Count(ctx)
		if err != nil {
			return fmt.Errorf("check migration %s: %w", m.ID, err)
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply migration %s (%s): %w", m.ID, m.Module, err)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (id, module, applied_at) VALUES (?, ?, ?)",
			m.ID, m.Module, time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))
		if err != nil {
			return fmt.Errorf("record migration %s: %w", m.ID, err)
		}
		ran = true
		return nil
	})
	return ran, err
}

// Reset drops every table the migrations created (in reverse order of
// creation, by dropping all tables of the schema) so that Up starts afresh.
func Reset(ctx context.Context, d *db.DB) error {
	if d.IsPostgres() {
		_, err := d.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
		if err != nil {
			return fmt.Errorf("reset postgres schema: %w", err)
		}
		return nil
	}
	var tables []string
	err := d.NewSelect().Table("sqlite_master").Column("name").
		Where("type = 'table' AND name NOT LIKE 'sqlite_%'").Scan(ctx, &tables)
	if err != nil {
		return fmt.Errorf("list sqlite tables: %w", err)
	}
	if _, err := d.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return fmt.Errorf("reset sqlite: %w", err)
	}
	defer d.ExecContext(ctx, "PRAGMA foreign_keys = ON") //nolint:errcheck // best effort; the connection is reused
	for _, t := range tables {
		if _, err := d.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteIdent(t)); err != nil {
			return fmt.Errorf("drop table %s: %w", t, err)
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
