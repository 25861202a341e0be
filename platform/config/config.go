// Package config is the server's typed configuration, read from Prefect's own
// environment variables (current names and legacy aliases) with Prefect's
// defaults, so that an existing Prefect setup works unchanged.
package config

import "time"

// Config is the whole server configuration. Each component receives only its
// own section through fx (see platform.Module).
type Config struct {
	Home        string // PREFECT_HOME
	API         API
	Database    Database
	Logging     Logging
	Events      Events
	Redis       Redis
	Concurrency Concurrency
	Services    Services
	Tracing     Tracing
}

// API is the HTTP server.
type API struct {
	Host               string   // PREFECT_SERVER_API_HOST, default 127.0.0.1
	Port               int      // PREFECT_SERVER_API_PORT, default 4200
	DefaultLimit       int      // PREFECT_SERVER_API_DEFAULT_LIMIT, default 200
	KeepAlive          time.Duration
	CSRFProtection     bool     // PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED, default false
	CORSAllowedOrigins []string // PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS, default "*"
	CORSAllowedMethods []string // PREFECT_SERVER_API_CORS_ALLOWED_METHODS, default "*"
	CORSAllowedHeaders []string // PREFECT_SERVER_API_CORS_ALLOWED_HEADERS, default "*"
	MaxBodyBytes       int64    // request body limit (ours), default 64 MiB
}

// Dialect names a supported database.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Database is the SQL database.
type Database struct {
	// URL is the connection URL as the user gave it (SQLAlchemy form allowed).
	URL     string
	Dialect Dialect
	// DSN is what the Go driver takes: a file path for SQLite ("" or
	// ":memory:" for an in-memory database), a postgres:// URL for PostgreSQL.
	DSN               string
	Timeout           time.Duration // PREFECT_SERVER_DATABASE_TIMEOUT, default 10s
	ConnectionTimeout time.Duration // PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT, default 5s
	PoolSize          int           // PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE, default 5
	MaxOverflow       int           // PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW, default 10
	MigrateOnStart    bool          // PREFECT_SERVER_DATABASE_MIGRATE_ON_START, default true
}

// Logging is the server's own logging.
type Logging struct {
	Level string // PREFECT_SERVER_LOGGING_LEVEL, default WARNING
}

// BrokerKind selects a message broker or cache implementation.
type BrokerKind string

const (
	KindMemory BrokerKind = "memory"
	KindRedis  BrokerKind = "redis"
)

// Events configures the messaging layer and the events subsystem.
type Events struct {
	MessagingBroker BrokerKind    // PREFECT_SERVER_EVENTS_MESSAGING_BROKER
	MessagingCache  BrokerKind    // PREFECT_SERVER_EVENTS_MESSAGING_CACHE
	CausalOrdering  BrokerKind    // PREFECT_SERVER_EVENTS_CAUSAL_ORDERING
	RetentionPeriod time.Duration // PREFECT_SERVER_EVENTS_RETENTION_PERIOD, default 7 days
	StreamOut       bool          // PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED, default true
	// MaximumWebsocketBackfill and WebsocketBackfillPageSize shape /events/out.
	MaximumWebsocketBackfill  time.Duration
	WebsocketBackfillPageSize int
	MaximumSizeBytes          int
}

// Redis is the Redis connection used by the Redis broker, cache and lease
// storage (prefect-redis's PREFECT_REDIS_MESSAGING_* settings).
type Redis struct {
	URL      string // PREFECT_REDIS_MESSAGING_URL; wins over the parts below
	Host     string // default localhost
	Port     int    // default 6379
	DB       int    // default 0
	Username string // default "default"
	Password string
	SSL      bool
}

// Concurrency configures concurrency-limit lease storage.
type Concurrency struct {
	LeaseStorage BrokerKind // PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE
}

// Services says which background services run and how often.
type Services struct {
	// RunServices is false with `start --no-services`.
	RunServices bool
	// RunAPI is false for `prefect-server services`.
	RunAPI bool
	// Env looks up PREFECT_SERVER_SERVICES_<NAME>_* settings (with their legacy
	// aliases) for a service; see Services.Enabled and Services.Duration.
	Env func(name string) (string, bool) `json:"-"`
}

// Tracing configures OpenTelemetry export.
type Tracing struct {
	// OTLPEndpoint is OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
	// variable); tracing is a no-op when empty.
	OTLPEndpoint string
	ServiceName  string
}
