// Package migrations holds the platform's own schema: the table that records
// which migrations have run. Each feature module embeds its own migrations in
// modules/<feature>/migrations/{sqlite,postgres}/ and contributes them through
// platform.AsMigrations; the runner in platform/migrate applies them all.
package migrations

import "embed"

// Bootstrap creates the bookkeeping table; it is idempotent and runs first.
//
//go:embed sqlite/*.sql postgres/*.sql
var Bootstrap embed.FS
