package config

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

type dbWant struct {
	URL     string
	Dialect Dialect
	DSN     string
}

func TestDatabaseURLForms(t *testing.T) {
	tests := []struct {
		name string
		give map[string]string
		want dbWant
	}{
		{"default", nil, dbWant{"sqlite+aiosqlite:////home/u/.prefect/prefect.db", SQLite, "/home/u/.prefect/prefect.db"}},
		{"sqlite absolute", map[string]string{envDBURL: "sqlite+aiosqlite:////data/prefect.db"}, dbWant{"sqlite+aiosqlite:////data/prefect.db", SQLite, "/data/prefect.db"}},
		{"sqlite relative", map[string]string{envDBURL: "sqlite:///prefect.db"}, dbWant{"sqlite:///prefect.db", SQLite, "prefect.db"}},
		{"sqlite tilde", map[string]string{envDBURL: "sqlite+aiosqlite:///~/p.db"}, dbWant{"sqlite+aiosqlite:///~/p.db", SQLite, "/home/u/p.db"}},
		{"sqlite quoted", map[string]string{envDBURL: "sqlite:////data/my%20db.db"}, dbWant{"sqlite:////data/my%20db.db", SQLite, "/data/my db.db"}},
		{"sqlite memory", map[string]string{envDBURL: "sqlite+aiosqlite:///:memory:"}, dbWant{"sqlite+aiosqlite:///:memory:", SQLite, ":memory:"}},
		{"sqlite no path", map[string]string{envDBURL: "sqlite://"}, dbWant{"sqlite://", SQLite, ":memory:"}},
		{"sqlite shared memory uri", map[string]string{envDBURL: "sqlite+aiosqlite:///file::memory:?cache=shared&uri=true&check_same_thread=false"},
			dbWant{"sqlite+aiosqlite:///file::memory:?cache=shared&uri=true&check_same_thread=false", SQLite, ":memory:"}},
		{"sqlite shared memory", map[string]string{envDBURL: "sqlite:///file::memory:?cache=shared"}, dbWant{"sqlite:///file::memory:?cache=shared", SQLite, ":memory:"}},
		{"sqlite named memory", map[string]string{envDBURL: "sqlite:///file:x?mode=memory&uri=true"}, dbWant{"sqlite:///file:x?mode=memory&uri=true", SQLite, ":memory:"}},
		{"sqlite file uri", map[string]string{envDBURL: "sqlite+aiosqlite:///file:/data/p.db?uri=true&mode=rwc"}, dbWant{"sqlite+aiosqlite:///file:/data/p.db?uri=true&mode=rwc", SQLite, "/data/p.db"}},
		{"asyncpg", map[string]string{envDBURL: "postgresql+asyncpg://prefect:pw@db:5432/prefect"},
			dbWant{"postgresql+asyncpg://prefect:pw@db:5432/prefect", Postgres, "postgres://prefect:pw@db:5432/prefect?connect_timeout=5"}},
		{"postgresql", map[string]string{envDBURL: "postgresql://u@db/x?sslmode=require&application_name=a"},
			dbWant{"postgresql://u@db/x?sslmode=require&application_name=a", Postgres, "postgres://u@db/x?application_name=a&connect_timeout=5&sslmode=require"}},
		{"postgres", map[string]string{envDBURL: "postgres://u:p@db/x"}, dbWant{"postgres://u:p@db/x", Postgres, "postgres://u:p@db/x?connect_timeout=5"}},
		{"quoted password", map[string]string{envDBURL: "postgresql+asyncpg://u:p%40ss%2Fw@db/x"},
			dbWant{"postgresql+asyncpg://u:p%40ss%2Fw@db/x", Postgres, "postgres://u:p%40ss%2Fw@db/x?connect_timeout=5"}},
		{"ipv6", map[string]string{envDBURL: "postgresql+asyncpg://u@[::1]:6543/x"}, dbWant{"postgresql+asyncpg://u@[::1]:6543/x", Postgres, "postgres://u@[::1]:6543/x?connect_timeout=5"}},
		{"unix socket", map[string]string{envDBURL: "postgresql+asyncpg://u@/x?host=/var/run/postgresql"},
			dbWant{"postgresql+asyncpg://u@/x?host=/var/run/postgresql", Postgres, "postgres://u@/x?connect_timeout=5&host=%2Fvar%2Frun%2Fpostgresql"}},
		{"asyncpg params translated", map[string]string{envDBURL: "postgresql+asyncpg://u@db/x?ssl=require&timeout=2.5&prepared_statement_cache_size=0&command_timeout=9&default_transaction_isolation=serializable"},
			dbWant{"postgresql+asyncpg://u@db/x?ssl=require&timeout=2.5&prepared_statement_cache_size=0&command_timeout=9&default_transaction_isolation=serializable", Postgres,
				"postgres://u@db/x?connect_timeout=3&default_query_exec_mode=exec&default_transaction_isolation=serializable&sslmode=require"}},
		{"ssl true", map[string]string{envDBURL: "postgresql+asyncpg://db/x?ssl=true"}, dbWant{"postgresql+asyncpg://db/x?ssl=true", Postgres, "postgres://db/x?connect_timeout=5&sslmode=require"}},
		{"password template", map[string]string{envDBURL: "postgresql+asyncpg://u:${PREFECT_SERVER_DATABASE_PASSWORD}@db/x", "PREFECT_API_DATABASE_PASSWORD": "s@c/r"},
			dbWant{"postgresql+asyncpg://u:s%40c%2Fr@db/x", Postgres, "postgres://u:s%40c%2Fr@db/x?connect_timeout=5"}},
		{"legacy password template", map[string]string{envDBURL: "postgresql+asyncpg://u:${PREFECT_API_DATABASE_PASSWORD}@db/x", envDBPassword: "pw"},
			dbWant{"postgresql+asyncpg://u:pw@db/x", Postgres, "postgres://u:pw@db/x?connect_timeout=5"}},
		{"connect args", map[string]string{envDBURL: "postgresql+asyncpg://db/x", envDBConnectionTimeout: "0", envDBAppName: "prefect", envDBSearchPath: "myschema, public", envDBStatementCache: "0"},
			dbWant{"postgresql+asyncpg://db/x", Postgres, "postgres://db/x?application_name=prefect&default_query_exec_mode=exec&search_path=myschema%2C+public"}},
		{"tls", map[string]string{envDBURL: "postgresql+asyncpg://db/x?ssl=disable", envDBTLSEnabled: "true", envDBTLSCAFile: "/ca.pem", envDBTLSCertFile: "/c.pem", envDBTLSKeyFile: "/k.pem"},
			dbWant{"postgresql+asyncpg://db/x?ssl=disable", Postgres, "postgres://db/x?connect_timeout=5&sslcert=%2Fc.pem&sslkey=%2Fk.pem&sslmode=verify-full&sslrootcert=%2Fca.pem"}},
		{"tls no hostname check", map[string]string{envDBURL: "postgresql+asyncpg://db/x", envDBTLSEnabled: "1", envDBTLSCheckHostname: "false"},
			dbWant{"postgresql+asyncpg://db/x", Postgres, "postgres://db/x?connect_timeout=5&sslmode=verify-ca"}},
		{"components postgres", map[string]string{envDBDriver: "postgresql+asyncpg", envDBHost: "db", "PREFECT_API_DATABASE_USER": "u@x", envDBName: "n", envDBPassword: "p@ss/w:rd"},
			dbWant{"postgresql+asyncpg://u%40x:p%40ss%2Fw%3Ard@db:5432/n", Postgres, "postgres://u%40x:p%40ss%2Fw%3Ard@db:5432/n?connect_timeout=5"}},
		{"components port", map[string]string{"PREFECT_API_DATABASE_DRIVER": "postgresql+asyncpg", envDBHost: "db", envDBUser: "u", envDBName: "n", envDBPort: "6543"},
			dbWant{"postgresql+asyncpg://u@db:6543/n", Postgres, "postgres://u@db:6543/n?connect_timeout=5"}},
		{"components sqlite", map[string]string{envDBDriver: "sqlite+aiosqlite", envDBName: "/data/p.db"}, dbWant{"sqlite+aiosqlite:////data/p.db", SQLite, "/data/p.db"}},
		{"components sqlite default", map[string]string{envDBDriver: "sqlite+aiosqlite"}, dbWant{"sqlite+aiosqlite:////home/u/.prefect/prefect.db", SQLite, "/home/u/.prefect/prefect.db"}},
		{"url wins over components", map[string]string{envDBURL: "sqlite:////a.db", envDBDriver: "postgresql+asyncpg"}, dbWant{"sqlite:////a.db", SQLite, "/a.db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustLoad(t, tt.give).Database
			if got := (dbWant{d.URL, d.Dialect, d.DSN}); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestPostgresDSNParsesWithPgx checks that pgx takes the DSNs built, and
// reads the parts back as meant.
func TestPostgresDSNParsesWithPgx(t *testing.T) {
	tests := []struct {
		give string
		want [4]string // host, user, password, database
	}{
		{"postgresql+asyncpg://u%40x:p%40ss%2Fw%3Ard@db:6543/n", [4]string{"db", "u@x", "p@ss/w:rd", "n"}},
		{"postgresql+asyncpg://u:pw@[::1]/n?prepared_statement_cache_size=0&ssl=disable", [4]string{"::1", "u", "pw", "n"}},
		{"postgres://u@/n?host=/var/run/postgresql", [4]string{"/var/run/postgresql", "u", "", "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			d := mustLoad(t, map[string]string{envDBURL: tt.give}).Database
			pc, err := pgx.ParseConfig(d.DSN)
			if err != nil {
				t.Fatalf("pgx.ParseConfig(%q): %v", d.DSN, err)
			}
			got := [4]string{pc.Host, pc.User, pc.Password, pc.Database}
			if got != tt.want {
				t.Errorf("pgx read %q as %q, want %q", d.DSN, got, tt.want)
			}
		})
	}
}
