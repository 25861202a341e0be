package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// envOf is a lookup over m, with HOME set so that "~" is predictable.
func envOf(m map[string]string) func(string) (string, bool) {
	full := map[string]string{"HOME": "/home/u"}
	for k, v := range m {
		full[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := full[k]
		return v, ok
	}
}

func mustLoad(t *testing.T, m map[string]string) Config {
	t.Helper()
	cfg, err := Load(envOf(m))
	if err != nil {
		t.Fatalf("Load(%v): %v", m, err)
	}
	return cfg
}

func TestLoadDefaults(t *testing.T) {
	cfg := mustLoad(t, nil)
	if !cfg.Services.RunServices || !cfg.Services.RunAPI || cfg.Services.Env == nil {
		t.Errorf("Services = %+v, want RunServices, RunAPI and Env set", cfg.Services)
	}
	cfg.Services = Services{}
	want := Config{
		Home: "/home/u/.prefect",
		API: API{Host: "127.0.0.1", Port: 4200, DefaultLimit: 200, KeepAlive: 5 * time.Second,
			CORSAllowedOrigins: []string{"*"}, CORSAllowedMethods: []string{"*"}, CORSAllowedHeaders: []string{"*"},
			MaxBodyBytes: 64 << 20, MaxParameterSize: 524288},
		Database: Database{URL: "sqlite+aiosqlite:////home/u/.prefect/prefect.db", Dialect: SQLite,
			DSN: "/home/u/.prefect/prefect.db", Timeout: 10 * time.Second, ConnectionTimeout: 5 * time.Second,
			PoolSize: 5, MaxOverflow: 10, MigrateOnStart: true},
		Logging: Logging{Level: "WARNING"},
		Events: Events{MessagingBroker: KindMemory, MessagingCache: KindMemory, CausalOrdering: KindMemory,
			RetentionPeriod: 7 * 24 * time.Hour, StreamOut: true, MaximumWebsocketBackfill: 15 * time.Minute,
			WebsocketBackfillPageSize: 250, MaximumSizeBytes: 1_500_000, MaximumLabelsPerResource: 500,
			MaximumRelatedResources: 100, MaximumEventNameLength: 1024},
		Redis:       Redis{Host: "localhost", Port: 6379, Username: "default"},
		Concurrency: Concurrency{LeaseStorage: KindMemory},
		Tracing:     Tracing{ServiceName: "prefect-server"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestLoadValues(t *testing.T) {
	tests := []struct {
		name string
		give map[string]string
		get  func(Config) any
		want any
	}{
		{"home", map[string]string{"PREFECT_HOME": "/srv/prefect"}, func(c Config) any { return []string{c.Home, c.Database.DSN} }, []string{"/srv/prefect", "/srv/prefect/prefect.db"}},
		{"home tilde", map[string]string{"PREFECT_HOME": "~/p"}, func(c Config) any { return c.Home }, "/home/u/p"},
		{"home empty", map[string]string{"PREFECT_HOME": ""}, func(c Config) any { return c.Home }, "."},
		{"host", map[string]string{"PREFECT_SERVER_API_HOST": "0.0.0.0"}, func(c Config) any { return c.API.Host }, "0.0.0.0"},
		{"port", map[string]string{"PREFECT_SERVER_API_PORT": " 8080 "}, func(c Config) any { return c.API.Port }, 8080},
		{"port as pydantic float", map[string]string{"PREFECT_SERVER_API_PORT": "4201.0"}, func(c Config) any { return c.API.Port }, 4201},
		{"keepalive", map[string]string{"PREFECT_SERVER_API_KEEPALIVE_TIMEOUT": "65"}, func(c Config) any { return c.API.KeepAlive }, 65 * time.Second},
		{"default limit", map[string]string{"PREFECT_SERVER_API_DEFAULT_LIMIT": "50"}, func(c Config) any { return c.API.DefaultLimit }, 50},
		{"default limit legacy", map[string]string{"PREFECT_API_DEFAULT_LIMIT": "20"}, func(c Config) any { return c.API.DefaultLimit }, 20},
		{"default limit precedence", map[string]string{"PREFECT_SERVER_API_DEFAULT_LIMIT": "10", "PREFECT_API_DEFAULT_LIMIT": "20"}, func(c Config) any { return c.API.DefaultLimit }, 10},
		{"csrf", map[string]string{"PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "True"}, func(c Config) any { return c.API.CSRFProtection }, true},
		{"csrf legacy", map[string]string{"PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "yes"}, func(c Config) any { return c.API.CSRFProtection }, true},
		{"csrf precedence", map[string]string{"PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "off", "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "on"}, func(c Config) any { return c.API.CSRFProtection }, false},
		{"cors origins", map[string]string{"PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example,"}, func(c Config) any { return c.API.CORSAllowedOrigins }, []string{"https://a.example", "https://b.example"}},
		{"cors legacy", map[string]string{"PREFECT_SERVER_CORS_ALLOWED_METHODS": "GET,POST", "PREFECT_SERVER_CORS_ALLOWED_HEADERS": "X-A"}, func(c Config) any { return [][]string{c.API.CORSAllowedMethods, c.API.CORSAllowedHeaders} }, [][]string{{"GET", "POST"}, {"X-A"}}},
		{"auth string", map[string]string{"PREFECT_SERVER_API_AUTH_STRING": "admin:pass"}, func(c Config) any { return c.API.AuthString }, "admin:pass"},
		{"logging level", map[string]string{"PREFECT_SERVER_LOGGING_LEVEL": "info"}, func(c Config) any { return c.Logging.Level }, "INFO"},
		{"logging level legacy", map[string]string{"PREFECT_LOGGING_SERVER_LEVEL": "debug"}, func(c Config) any { return c.Logging.Level }, "DEBUG"},
		{"logging level precedence", map[string]string{"PREFECT_SERVER_LOGGING_LEVEL": "ERROR", "PREFECT_LOGGING_SERVER_LEVEL": "DEBUG"}, func(c Config) any { return c.Logging.Level }, "ERROR"},
		{"db url legacy", map[string]string{"PREFECT_API_DATABASE_CONNECTION_URL": "sqlite:////data/p.db"}, func(c Config) any { return c.Database.DSN }, "/data/p.db"},
		{"db url precedence", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": "sqlite:////a.db", "PREFECT_API_DATABASE_CONNECTION_URL": "sqlite:////b.db"}, func(c Config) any { return c.Database.DSN }, "/a.db"},
		{"db url empty is unset", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": " "}, func(c Config) any { return c.Database.DSN }, "/home/u/.prefect/prefect.db"},
		{"db timeouts", map[string]string{"PREFECT_SERVER_DATABASE_TIMEOUT": "2.5", "PREFECT_API_DATABASE_CONNECTION_TIMEOUT": "PT1M"}, func(c Config) any { return []time.Duration{c.Database.Timeout, c.Database.ConnectionTimeout} }, []time.Duration{2500 * time.Millisecond, time.Minute}},
		{"db pool legacy", map[string]string{"PREFECT_SQLALCHEMY_POOL_SIZE": "20", "PREFECT_SQLALCHEMY_MAX_OVERFLOW": "-1"}, func(c Config) any { return []int{c.Database.PoolSize, c.Database.MaxOverflow} }, []int{20, -1}},
		{"db pool precedence", map[string]string{"PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": "7", "PREFECT_SQLALCHEMY_POOL_SIZE": "20"}, func(c Config) any { return c.Database.PoolSize }, 7},
		{"db migrate legacy", map[string]string{"PREFECT_API_DATABASE_MIGRATE_ON_START": "false"}, func(c Config) any { return c.Database.MigrateOnStart }, false},
		{"broker module", map[string]string{"PREFECT_SERVER_EVENTS_MESSAGING_BROKER": "prefect_redis.messaging"}, func(c Config) any { return c.Events.MessagingBroker }, KindRedis},
		{"broker legacy", map[string]string{"PREFECT_MESSAGING_BROKER": "prefect_redis.messaging", "PREFECT_MESSAGING_CACHE": "redis"}, func(c Config) any { return []BrokerKind{c.Events.MessagingBroker, c.Events.MessagingCache} }, []BrokerKind{KindRedis, KindRedis}},
		{"broker precedence", map[string]string{"PREFECT_SERVER_EVENTS_MESSAGING_BROKER": "prefect.server.utilities.messaging.memory", "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging"}, func(c Config) any { return c.Events.MessagingBroker }, KindMemory},
		{"ordering", map[string]string{"PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering"}, func(c Config) any { return c.Events.CausalOrdering }, KindRedis},
		{"ordering memory module", map[string]string{"PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect.server.events.ordering.memory"}, func(c Config) any { return c.Events.CausalOrdering }, KindMemory},
		{"lease storage", map[string]string{"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage"}, func(c Config) any { return c.Concurrency.LeaseStorage }, KindRedis},
		{"lease storage memory", map[string]string{"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.memory"}, func(c Config) any { return c.Concurrency.LeaseStorage }, KindMemory},
		{"retention ISO", map[string]string{"PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "P30D"}, func(c Config) any { return c.Events.RetentionPeriod }, 30 * 24 * time.Hour},
		{"retention legacy timedelta", map[string]string{"PREFECT_EVENTS_RETENTION_PERIOD": "2 days, 12:00:00"}, func(c Config) any { return c.Events.RetentionPeriod }, 60 * time.Hour},
		{"retention seconds", map[string]string{"PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "3600"}, func(c Config) any { return c.Events.RetentionPeriod }, time.Hour},
		{"stream out legacy", map[string]string{"PREFECT_API_EVENTS_STREAM_OUT_ENABLED": "0"}, func(c Config) any { return c.Events.StreamOut }, false},
		{"backfill legacy", map[string]string{"PREFECT_EVENTS_MAXIMUM_WEBSOCKET_BACKFILL": "PT5M", "PREFECT_EVENTS_WEBSOCKET_BACKFILL_PAGE_SIZE": "10"}, func(c Config) any {
			return []any{c.Events.MaximumWebsocketBackfill, c.Events.WebsocketBackfillPageSize}
		}, []any{5 * time.Minute, 10}},
		{"event limits legacy", map[string]string{"PREFECT_EVENTS_MAXIMUM_SIZE_BYTES": "1_000", "PREFECT_EVENTS_MAXIMUM_LABELS_PER_RESOURCE": "5", "PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES": "6"}, func(c Config) any {
			return []int{c.Events.MaximumSizeBytes, c.Events.MaximumLabelsPerResource, c.Events.MaximumRelatedResources}
		}, []int{1000, 5, 6}},
		{"redis", map[string]string{"PREFECT_REDIS_MESSAGING_HOST": "r", "PREFECT_REDIS_MESSAGING_PORT": "6380", "PREFECT_REDIS_MESSAGING_DB": "2", "PREFECT_REDIS_MESSAGING_USERNAME": "me", "PREFECT_REDIS_MESSAGING_PASSWORD": "pw", "PREFECT_REDIS_MESSAGING_SSL": "true"}, func(c Config) any { return c.Redis }, Redis{Host: "r", Port: 6380, DB: 2, Username: "me", Password: "pw", SSL: true}},
		{"redis url", map[string]string{"PREFECT_REDIS_MESSAGING_URL": "rediss://:pw@r:6380/1"}, func(c Config) any { return c.Redis.URL }, "rediss://:pw@r:6380/1"},
		{"tracing traces endpoint wins", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4318/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:4318"}, func(c Config) any { return c.Tracing.OTLPEndpoint }, "http://t:4318/v1/traces"},
		{"tracing generic endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:4318", "OTEL_SERVICE_NAME": "mine"}, func(c Config) any { return c.Tracing }, Tracing{OTLPEndpoint: "http://g:4318", ServiceName: "mine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.get(mustLoad(t, tt.give))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		give map[string]string
		want []string // substrings of the error
	}{
		{"port not a number", map[string]string{"PREFECT_SERVER_API_PORT": "abc"}, []string{`PREFECT_SERVER_API_PORT: "abc" is not a valid port`}},
		{"port out of range", map[string]string{"PREFECT_SERVER_API_PORT": "70000"}, []string{`PREFECT_SERVER_API_PORT: "70000" is not a valid port`}},
		{"port empty", map[string]string{"PREFECT_SERVER_API_PORT": ""}, []string{`PREFECT_SERVER_API_PORT: "" is not a valid port`}},
		{"legacy name reported", map[string]string{"PREFECT_API_DEFAULT_LIMIT": "many"}, []string{`PREFECT_API_DEFAULT_LIMIT: "many" is not a valid integer`}},
		{"limit zero", map[string]string{"PREFECT_SERVER_API_DEFAULT_LIMIT": "0"}, []string{`PREFECT_SERVER_API_DEFAULT_LIMIT: "0" must be greater than 0`}},
		{"bad bool", map[string]string{"PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "maybe"}, []string{`PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED: "maybe" is not a valid boolean`}},
		{"bad bool legacy", map[string]string{"PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "2"}, []string{`PREFECT_SERVER_CSRF_PROTECTION_ENABLED: "2" is not a valid boolean`}},
		{"bad duration", map[string]string{"PREFECT_EVENTS_RETENTION_PERIOD": "a week"}, []string{`PREFECT_EVENTS_RETENTION_PERIOD: "a week" is not a valid duration`}},
		{"negative duration", map[string]string{"PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "-P1D"}, []string{`PREFECT_SERVER_EVENTS_RETENTION_PERIOD: "-P1D" is negative`}},
		{"unknown broker", map[string]string{"PREFECT_MESSAGING_BROKER": "kafka"}, []string{`PREFECT_MESSAGING_BROKER: "kafka" is not supported (want prefect.server.utilities.messaging.memory or prefect_redis.messaging, or memory or redis)`}},
		{"unknown ordering", map[string]string{"PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.messaging"}, []string{`PREFECT_SERVER_EVENTS_CAUSAL_ORDERING: "prefect_redis.messaging" is not supported (want prefect.server.events.ordering.memory or prefect_redis.ordering`}},
		{"unknown lease storage", map[string]string{"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "x"}, []string{`PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE: "x" is not supported`}},
		{"bad log level", map[string]string{"PREFECT_LOGGING_SERVER_LEVEL": "verbose"}, []string{`PREFECT_LOGGING_SERVER_LEVEL: "verbose" is not a valid log level (want DEBUG, INFO, WARNING, ERROR, CRITICAL)`}},
		{"mysql", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": "mysql://u:secret@h/db"}, []string{`PREFECT_SERVER_DATABASE_CONNECTION_URL: unsupported database "mysql"`}},
		{"mysql legacy", map[string]string{"PREFECT_API_DATABASE_CONNECTION_URL": "mysql+aiomysql://h/db"}, []string{`PREFECT_API_DATABASE_CONNECTION_URL: unsupported database "mysql+aiomysql"`}},
		{"not a url", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": "prefect.db"}, []string{`PREFECT_SERVER_DATABASE_CONNECTION_URL: "prefect.db" is not a database URL`}},
		{"db port", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://u:secret@h:abc/db"}, []string{`PREFECT_SERVER_DATABASE_CONNECTION_URL: "postgresql+asyncpg://u:xxxxx@h:abc/db": "abc" is not a valid port`}},
		{"sqlite with host", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": "sqlite://prefect.db"}, []string{`PREFECT_SERVER_DATABASE_CONNECTION_URL: "sqlite://prefect.db": a SQLite URL has no host`}},
		{"bad asyncpg ssl", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://h/db?ssl=maybe"}, []string{`ssl="maybe" is not supported`}},
		{"password template unset", map[string]string{"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://u:${PREFECT_SERVER_DATABASE_PASSWORD}@h/db"}, []string{"PREFECT_SERVER_DATABASE_CONNECTION_URL: refers to the database password but PREFECT_SERVER_DATABASE_PASSWORD is not set"}},
		{"unknown driver", map[string]string{"PREFECT_API_DATABASE_DRIVER": "mysql"}, []string{`PREFECT_API_DATABASE_DRIVER: "mysql" is not a supported driver (want postgresql+asyncpg or sqlite+aiosqlite)`}},
		{"driver missing parts", map[string]string{"PREFECT_SERVER_DATABASE_DRIVER": "postgresql+asyncpg", "PREFECT_SERVER_DATABASE_HOST": "h"}, []string{"PREFECT_SERVER_DATABASE_DRIVER: postgresql+asyncpg needs PREFECT_SERVER_DATABASE_USER, PREFECT_SERVER_DATABASE_NAME to be set too"}},
		{"component port", map[string]string{"PREFECT_SERVER_DATABASE_DRIVER": "postgresql+asyncpg", "PREFECT_SERVER_DATABASE_HOST": "h", "PREFECT_SERVER_DATABASE_USER": "u", "PREFECT_SERVER_DATABASE_NAME": "n", "PREFECT_API_DATABASE_PORT": "x"}, []string{`PREFECT_API_DATABASE_PORT: "x" is not a valid port`}},
		{"redis url", map[string]string{"PREFECT_REDIS_MESSAGING_URL": "http://:pw@r"}, []string{`PREFECT_REDIS_MESSAGING_URL: "http://:xxxxx@r" is not a Redis URL`}},
		{"redis port", map[string]string{"PREFECT_REDIS_MESSAGING_PORT": "0"}, []string{`PREFECT_REDIS_MESSAGING_PORT: "0" is not a valid port`}},
		{"all reported", map[string]string{"PREFECT_SERVER_API_PORT": "abc", "PREFECT_SERVER_DATABASE_TIMEOUT": "soon"}, []string{"PREFECT_SERVER_API_PORT:", "PREFECT_SERVER_DATABASE_TIMEOUT:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(envOf(tt.give))
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("error %q leaks the password", msg)
			}
		})
	}
}

// TestEveryAliasIsRead checks that Load consults every name of every setting
// it fills, in Prefect's order, and only names that Variables lists. The
// runs cover the database parts that are read only with a driver set.
func TestEveryAliasIsRead(t *testing.T) {
	runs := []map[string]string{
		{},
		{"PREFECT_SERVER_DATABASE_DRIVER": "postgresql+asyncpg"},
		{"PREFECT_SERVER_DATABASE_DRIVER": "postgresql+asyncpg", "PREFECT_API_DATABASE_HOST": "h",
			"PREFECT_API_DATABASE_USER": "u", "PREFECT_API_DATABASE_NAME": "n"},
	}
	var asked [][]string
	for _, give := range runs {
		var names []string
		_, _ = Load(func(k string) (string, bool) {
			names = append(names, k)
			v, ok := give[k]
			return v, ok
		})
		asked = append(asked, names)
	}
	inOrder := func(names []string) bool {
		for _, run := range asked {
			if i := slices.Index(run, names[0]); i >= 0 && i+len(names) <= len(run) && slices.Equal(run[i:i+len(names)], names) {
				return true
			}
		}
		return false
	}
	known := map[string]bool{"HOME": true}
	for _, v := range Variables() {
		names := append([]string{v.Name}, v.Aliases...)
		for _, n := range names {
			known[n] = true
		}
		if v.Field != "" && !inOrder(names) {
			t.Errorf("Load does not read %v (for %s) in that order", names, v.Field)
		}
	}
	for _, run := range asked {
		for _, n := range run {
			if !known[n] {
				t.Errorf("Load reads %s, which Variables does not list", n)
			}
		}
	}
}

func TestVariables(t *testing.T) {
	seen := map[string]bool{}
	fields := map[string]bool{}
	for _, v := range Variables() {
		for _, n := range append([]string{v.Name}, v.Aliases...) {
			if seen[n] {
				t.Errorf("%s listed twice", n)
			}
			seen[n] = true
		}
		fields[v.Name] = v.Field != ""
	}
	for name := range loadedFields {
		if !fields[name] {
			t.Errorf("%s is read by Load but missing from Variables", name)
		}
	}
	for _, name := range []string{"PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS", "PREFECT_SERVER_UI_ENABLED"} {
		if !seen[name] {
			t.Errorf("%s missing from Variables", name)
		}
	}
}

func TestRedacted(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://u:s3cret@h/db?sslpassword=keypw",
		"PREFECT_REDIS_MESSAGING_URL":            "redis://:r3dis@r:6379/0",
		"PREFECT_REDIS_MESSAGING_PASSWORD":       "r3dis",
		"PREFECT_SERVER_API_AUTH_STRING":         "admin:adm1n",
	})
	got := cfg.Redacted()
	want := []string{
		"postgresql+asyncpg://u:xxxxx@h/db?sslpassword=keypw",
		"postgres://u:xxxxx@h/db?connect_timeout=5&sslpassword=xxxxx",
		"redis://:xxxxx@r:6379/0", "xxxxx", "admin:xxxxx",
	}
	gotS := []string{got.Database.URL, got.Database.DSN, got.Redis.URL, got.Redis.Password, got.API.AuthString}
	if !reflect.DeepEqual(gotS, want) {
		t.Errorf("Redacted:\n got %q\nwant %q", gotS, want)
	}
	if cfg.Redis.Password != "r3dis" || !strings.Contains(cfg.Database.DSN, "s3cret") {
		t.Errorf("Redacted changed the original: %+v", cfg)
	}
}

func TestDefaultHome(t *testing.T) {
	t.Setenv("HOME", "/tmp/somebody")
	if got := DefaultHome(); got != "/tmp/somebody/.prefect" {
		t.Errorf("DefaultHome() = %q", got)
	}
}
