package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Prefect's implementation modules for the pluggable backends, and the
// kind each selects.
const (
	messagingMemoryModule = "prefect.server.utilities.messaging.memory"
	messagingRedisModule  = "prefect_redis.messaging"
	orderingMemoryModule  = "prefect.server.events.ordering.memory"
	orderingRedisModule   = "prefect_redis.ordering"
	leaseMemoryModule     = "prefect.server.concurrency.lease_storage.memory"
	leaseRedisModule      = "prefect_redis.lease_storage"
)

// Load reads the configuration from Prefect's environment variables through
// lookup (os.LookupEnv in main), with Prefect's defaults. Each setting is
// read under its current name and then its legacy aliases, the first one set
// winning, as in Prefect. The error lists every bad value, each prefixed
// with the variable that holds it.
func Load(lookup func(string) (string, bool)) (Config, error) {
	e := &env{lookup: lookup}
	userHome := userHomeDir(lookup)
	home := expandUser(e.str(envHome, "~/.prefect"), userHome)
	if home == "" {
		home = "." // Python's Path("")
	}
	cfg := Config{
		Home:     home,
		API:      loadAPI(e),
		Database: loadDatabase(e, home, userHome),
		Logging:  Logging{Level: e.logLevel(envLoggingLevel, "WARNING")},
		Events:   loadEvents(e),
		Redis:    loadRedis(e),
		Concurrency: Concurrency{
			LeaseStorage: e.kind(envConcurrencyLeaseStorage, KindMemory, leaseMemoryModule, leaseRedisModule),
		},
		Services: newServices(lookup),
		Tracing:  loadTracing(e),
	}
	if err := errors.Join(e.errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// DefaultHome is Prefect's default home directory, ~/.prefect.
func DefaultHome() string {
	return expandUser("~/.prefect", userHomeDir(os.LookupEnv))
}

// userHomeDir is the directory "~" stands for: $HOME as Python's
// expanduser uses it, else the operating system's idea.
func userHomeDir(lookup func(string) (string, bool)) string {
	if h, ok := lookup("HOME"); ok && h != "" {
		return h
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return h
}

// expandUser expands a leading "~" like Python's Path.expanduser.
func expandUser(path, userHome string) string {
	if userHome == "" {
		return path
	}
	if path == "~" {
		return userHome
	}
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		return filepath.Join(userHome, rest)
	}
	return path
}

func loadAPI(e *env) API {
	a := API{
		Host:               e.str(envAPIHost, "127.0.0.1"),
		Port:               e.port(envAPIPort, 4200),
		DefaultLimit:       e.positive(envAPIDefaultLimit, 200),
		KeepAlive:          e.duration(envAPIKeepAlive, 5*time.Second),
		CSRFProtection:     e.boolean(envAPICSRF, false),
		CORSAllowedOrigins: splitList(e.str(envAPICORSOrigins, "*")),
		CORSAllowedMethods: splitList(e.str(envAPICORSMethods, "*")),
		CORSAllowedHeaders: splitList(e.str(envAPICORSHeaders, "*")),
		MaxBodyBytes:       64 << 20,
		AuthString:         e.str(envAPIAuthString, ""),
		MaxParameterSize:   e.integer(envAPIMaxParameterSize, 524288),
	}
	if a.MaxParameterSize < 0 {
		used, _, _ := resolve(e.lookup, envAPIMaxParameterSize)
		e.fail(used, fmt.Errorf("%d must not be negative", a.MaxParameterSize))
	}
	return a
}

func loadDatabase(e *env, home, userHome string) Database {
	d := Database{
		Timeout:           e.duration(envDBTimeout, 10*time.Second),
		ConnectionTimeout: e.duration(envDBConnectionTimeout, 5*time.Second),
		PoolSize:          e.integer(envDBPoolSize, 5),
		MaxOverflow:       e.integer(envDBMaxOverflow, 10),
		MigrateOnStart:    e.boolean(envDBMigrateOnStart, true),
	}
	pg := pgOptions{
		connectTimeout:   d.ConnectionTimeout,
		applicationName:  e.str(envDBAppName, ""),
		searchPath:       e.str(envDBSearchPath, ""),
		noStatementCache: e.integer(envDBStatementCache, -1) == 0 || e.integer(envDBPreparedCache, -1) == 0,
		tls:              e.boolean(envDBTLSEnabled, false),
		tlsCAFile:        e.str(envDBTLSCAFile, ""),
		tlsCertFile:      e.str(envDBTLSCertFile, ""),
		tlsKeyFile:       e.str(envDBTLSKeyFile, ""),
		tlsCheckHostname: e.boolean(envDBTLSCheckHostname, true),
	}
	used, raw, ok := resolve(e.lookup, envDBURL)
	if ok && strings.TrimSpace(raw) != "" {
		raw = substitutePassword(e, strings.TrimSpace(raw), used)
	} else {
		// An empty URL counts as unset (Prefect would fail later on it).
		var path string
		raw, path = componentURL(e, home)
		if raw == "" {
			return d
		}
		used, _, _ = resolve(e.lookup, envDBDriver)
		if path != "" {
			d.URL, d.Dialect, d.DSN = raw, SQLite, path
			return d
		}
	}
	dialect, dsn, err := databaseDSN(raw, userHome, pg)
	if err != nil {
		e.fail(used, err)
		return d
	}
	d.URL, d.Dialect, d.DSN = raw, dialect, dsn
	return d
}

func loadEvents(e *env) Events {
	return Events{
		MessagingBroker:           e.kind(envEventsBroker, KindMemory, messagingMemoryModule, messagingRedisModule),
		MessagingCache:            e.kind(envEventsCache, KindMemory, messagingMemoryModule, messagingRedisModule),
		CausalOrdering:            e.kind(envEventsOrdering, KindMemory, orderingMemoryModule, orderingRedisModule),
		RetentionPeriod:           e.duration(envEventsRetention, 7*24*time.Hour),
		StreamOut:                 e.boolean(envEventsStreamOut, true),
		MaximumWebsocketBackfill:  e.duration(envEventsMaxBackfill, 15*time.Minute),
		WebsocketBackfillPageSize: e.positive(envEventsBackfillPageSize, 250),
		MaximumSizeBytes:          e.positive(envEventsMaxSizeBytes, 1_500_000),
		MaximumLabelsPerResource:  e.integer(envEventsMaxLabels, 500),
		MaximumRelatedResources:   e.integer(envEventsMaxRelated, 100),
		MaximumEventNameLength:    e.positive(envEventsMaxEventNameLen, 1024),
	}
}

func loadRedis(e *env) Redis {
	r := Redis{
		URL:      strings.TrimSpace(e.str(envRedisURL, "")),
		Host:     e.str(envRedisHost, "localhost"),
		Port:     e.port(envRedisPort, 6379),
		DB:       e.integer(envRedisDB, 0),
		Username: e.str(envRedisUsername, "default"),
		Password: e.str(envRedisPassword, ""),
		SSL:      e.boolean(envRedisSSL, false),
	}
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			e.fail(envRedisURL, fmt.Errorf("%q is not a Redis URL (want redis://[[user]:password@]host[:port][/db], rediss://... or unix://...)", redactURL(r.URL)))
		}
	}
	if r.DB < 0 {
		e.fail(envRedisDB, fmt.Errorf("%d must not be negative", r.DB))
	}
	return r
}

func loadTracing(e *env) Tracing {
	t := Tracing{
		OTLPEndpoint: strings.TrimSpace(e.str(envOTLPTracesEndpoint, "")),
		ServiceName:  strings.TrimSpace(e.str(envOTELServiceName, "")),
	}
	if t.OTLPEndpoint == "" {
		t.OTLPEndpoint = strings.TrimSpace(e.str(envOTLPEndpoint, ""))
	}
	if t.ServiceName == "" {
		t.ServiceName = "prefect-server"
	}
	return t
}

// Redacted returns a copy fit for logging: the passwords in the database and
// Redis URLs, the Redis password and the API auth string are masked.
func (c Config) Redacted() Config {
	c.Database.URL = redactSQLAURL(c.Database.URL)
	if c.Database.Dialect == Postgres {
		c.Database.DSN = redactURL(c.Database.DSN)
	}
	if c.Redis.URL != "" {
		c.Redis.URL = redactURL(c.Redis.URL)
	}
	if c.Redis.Password != "" {
		c.Redis.Password = redactedMark
	}
	if c.API.AuthString != "" {
		user, _, found := strings.Cut(c.API.AuthString, ":")
		if !found {
			user = ""
		}
		c.API.AuthString = user + ":" + redactedMark
	}
	return c
}
