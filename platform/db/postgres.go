package db

import (
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/prefect-server/prefect-server/platform/config"
)

func openPostgres(cfg config.Database) (*DB, error) {
	sqldb, err := sql.Open("pgx", cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool := max(1, cfg.PoolSize)
	sqldb.SetMaxOpenConns(pool + max(0, cfg.MaxOverflow))
	sqldb.SetMaxIdleConns(pool)
	// Recycle connections so that a restarted PostgreSQL server is picked up
	// again by fresh connections; broken ones are dropped by database/sql.
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	sqldb.SetConnMaxLifetime(time.Hour)
	b := bun.NewDB(sqldb, pgdialect.New())
	return &DB{DB: b, Read: b, Dialect: config.Postgres}, nil
}
