// Package config is the server's typed configuration, read from Prefect's own
// environment variables (current names and legacy aliases) with Prefect's
// defaults, so that an existing Prefect setup works unchanged.
//
// Load reads it; Variables lists every variable understood; Redacted masks
// secrets for logging.
package config

import "time"

// Config is the whole server configuration. Each component receives only its
// own section through fx (see platform.Module).
type Config struct {
	Home        string // PREFECT_HOME, default ~/.prefect (expanded)
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
	Host               string        // PREFECT_SERVER_API_HOST, default 127.0.0.1
	Port               int           // PREFECT_SERVER_API_PORT, default 4200
	DefaultLimit       int           // PREFECT_SERVER_API_DEFAULT_LIMIT, default 200
	KeepAlive          time.Duration // PREFECT_SERVER_API_KEEPALIVE_TIMEOUT, default 5s
	CSRFProtection     bool          // PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED, default false
	CORSAllowedOrigins []string      // PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS, default "*"
	CORSAllowedMethods []string      // PREFECT_SERVER_API_CORS_ALLOWED_METHODS, default "*"
	CORSAllowedHeaders []string      // PREFECT_SERVER_API_CORS_ALLOWED_HEADERS, default "*"
	MaxBodyBytes       int64         // request body limit (ours), default 64 MiB
	// AuthString is "user:password" for HTTP basic authentication of API
	// requests; empty disables it. PREFECT_SERVER_API_AUTH_STRING.
	AuthString string
	// MaxParameterSize limits the JSON size in bytes of flow run and
	// deployment parameters; 0 disables the limit.
	// PREFECT_SERVER_API_MAX_PARAMETER_SIZE, default 524288.
	MaxParameterSize int
}

// Dialect names a supported database.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Database is the SQL database.
type Database struct {
	// URL is the connection URL as the user gave it (SQLAlchemy form
	// allowed), or the one Prefect builds from PREFECT_SERVER_DATABASE_DRIVER,
	// _HOST, _PORT, _USER, _NAME and _PASSWORD. It may hold a password: log
	// Config.Redacted() instead.
	URL     string
	Dialect Dialect
	// DSN is what the Go driver takes: a file path for SQLite ("" or
	// ":memory:" for an in-memory database), a postgres:// URL for PostgreSQL
	// that pgx accepts, with Prefect's connection settings (connect timeout,
	// TLS, application_name, search_path, statement caching) folded in.
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
	MessagingBroker BrokerKind    // PREFECT_SERVER_EVENTS_MESSAGING_BROKER, default memory
	MessagingCache  BrokerKind    // PREFECT_SERVER_EVENTS_MESSAGING_CACHE, default memory
	CausalOrdering  BrokerKind    // PREFECT_SERVER_EVENTS_CAUSAL_ORDERING, default memory
	RetentionPeriod time.Duration // PREFECT_SERVER_EVENTS_RETENTION_PERIOD, default 7 days
	StreamOut       bool          // PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED, default true
	// MaximumWebsocketBackfill and WebsocketBackfillPageSize shape /events/out.
	MaximumWebsocketBackfill  time.Duration // default 15 minutes
	WebsocketBackfillPageSize int           // default 250
	MaximumSizeBytes          int           // PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES, default 1500000
	// Limits on incoming events (PREFECT_SERVER_EVENTS_MAXIMUM_*).
	MaximumLabelsPerResource int // default 500
	MaximumRelatedResources  int // default 100
	MaximumEventNameLength   int // default 1024
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
	LeaseStorage BrokerKind // PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE, default memory
}

// Services says which background services run and how often.
type Services struct {
	// RunServices is false with `start --no-services`.
	RunServices bool
	// RunAPI is false for `prefect-server services`.
	RunAPI bool
	// Env looks up a Prefect setting by its full current name (e.g.
	// "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED"), trying its legacy aliases
	// (PREFECT_API_SERVICES_LATE_RUNS_ENABLED) in Prefect's order; see
	// Services.Enabled, Services.Duration and Services.Int.
	Env func(name string) (string, bool) `json:"-"`

	// lookup is the raw environment behind Env, kept to name the variable
	// actually set in errors.
	lookup func(string) (string, bool)
}

// Tracing configures OpenTelemetry export.
type Tracing struct {
	// OTLPEndpoint is OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
	// OTEL_EXPORTER_OTLP_ENDPOINT; tracing is a no-op when empty.
	OTLPEndpoint string
	ServiceName  string // OTEL_SERVICE_NAME, default prefect-server
}
