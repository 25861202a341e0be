package config

//go:generate sh -c "python3 gen_settings.py > settings_gen.go && gofmt -w settings_gen.go"

// Variable is one environment variable the server understands.
type Variable struct {
	// Name is the current name.
	Name string
	// Aliases are the legacy names Prefect still accepts, in the order
	// pydantic tries them after Name: the first one set wins.
	Aliases []string
	// Default is Prefect's default as an environment value ("" when unset).
	Default string
	// Description is Prefect's description of the setting.
	Description string
	// Field is the Config field that Load fills from the variable, e.g.
	// "API.Port". It is empty for settings that Load does not read; those
	// are still known to Services.Env, so a component can read them (with
	// their aliases) itself.
	Field string
}

// Variables lists every variable the server knows: Prefect's server settings
// (generated from Prefect's settings models), prefect-redis's connection
// settings and the OpenTelemetry exporter variables.
func Variables() []Variable {
	vars := allVariables()
	for i := range vars {
		vars[i].Aliases = append([]string(nil), vars[i].Aliases...)
	}
	return vars
}

func allVariables() []Variable {
	vars := make([]Variable, 0, len(prefectSettings)+len(extraVariables))
	for _, table := range [][]Variable{prefectSettings, extraVariables} {
		for _, v := range table {
			v.Field = loadedFields[v.Name]
			vars = append(vars, v)
		}
	}
	return vars
}

// extraVariables are read by the server but are not in Prefect's own
// settings models.
var extraVariables = []Variable{
	{Name: "PREFECT_REDIS_MESSAGING_URL", Description: "Full Redis URL (redis://user:pass@host:6379/0, or rediss:// for TLS). When set, the host/port/db/username/password/ssl settings are ignored."},
	{Name: "PREFECT_REDIS_MESSAGING_HOST", Default: "localhost", Description: "Redis host for the Redis messaging broker, cache, causal ordering and lease storage."},
	{Name: "PREFECT_REDIS_MESSAGING_PORT", Default: "6379", Description: "Redis port."},
	{Name: "PREFECT_REDIS_MESSAGING_DB", Default: "0", Description: "Redis database number."},
	{Name: "PREFECT_REDIS_MESSAGING_USERNAME", Default: "default", Description: "Redis user name."},
	{Name: "PREFECT_REDIS_MESSAGING_PASSWORD", Description: "Redis password."},
	{Name: "PREFECT_REDIS_MESSAGING_SSL", Default: "false", Description: "Whether to use TLS for the Redis connection."},
	{Name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", Description: "OTLP/HTTP endpoint for traces; tracing is off when neither this nor OTEL_EXPORTER_OTLP_ENDPOINT is set."},
	{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Description: "OTLP/HTTP endpoint, used for traces when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not set."},
	{Name: "OTEL_SERVICE_NAME", Default: "prefect-server", Description: "Service name reported with the traces."},
}

const (
	envHome = "PREFECT_HOME"

	envAPIHost             = "PREFECT_SERVER_API_HOST"
	envAPIPort             = "PREFECT_SERVER_API_PORT"
	envAPIDefaultLimit     = "PREFECT_SERVER_API_DEFAULT_LIMIT"
	envAPIKeepAlive        = "PREFECT_SERVER_API_KEEPALIVE_TIMEOUT"
	envAPICSRF             = "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED"
	envAPICORSOrigins      = "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"
	envAPICORSMethods      = "PREFECT_SERVER_API_CORS_ALLOWED_METHODS"
	envAPICORSHeaders      = "PREFECT_SERVER_API_CORS_ALLOWED_HEADERS"
	envAPIAuthString       = "PREFECT_SERVER_API_AUTH_STRING"
	envAPIMaxParameterSize = "PREFECT_SERVER_API_MAX_PARAMETER_SIZE"

	envDBURL               = "PREFECT_SERVER_DATABASE_CONNECTION_URL"
	envDBDriver            = "PREFECT_SERVER_DATABASE_DRIVER"
	envDBHost              = "PREFECT_SERVER_DATABASE_HOST"
	envDBPort              = "PREFECT_SERVER_DATABASE_PORT"
	envDBUser              = "PREFECT_SERVER_DATABASE_USER"
	envDBName              = "PREFECT_SERVER_DATABASE_NAME"
	envDBPassword          = "PREFECT_SERVER_DATABASE_PASSWORD"
	envDBTimeout           = "PREFECT_SERVER_DATABASE_TIMEOUT"
	envDBConnectionTimeout = "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT"
	envDBPoolSize          = "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE"
	envDBMaxOverflow       = "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW"
	envDBMigrateOnStart    = "PREFECT_SERVER_DATABASE_MIGRATE_ON_START"
	envDBConnectArgs       = "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_"
	envDBAppName           = envDBConnectArgs + "APPLICATION_NAME"
	envDBSearchPath        = envDBConnectArgs + "SEARCH_PATH"
	envDBStatementCache    = envDBConnectArgs + "STATEMENT_CACHE_SIZE"
	envDBPreparedCache     = envDBConnectArgs + "PREPARED_STATEMENT_CACHE_SIZE"
	envDBTLSEnabled        = envDBConnectArgs + "TLS_ENABLED"
	envDBTLSCAFile         = envDBConnectArgs + "TLS_CA_FILE"
	envDBTLSCertFile       = envDBConnectArgs + "TLS_CERT_FILE"
	envDBTLSKeyFile        = envDBConnectArgs + "TLS_KEY_FILE"
	envDBTLSCheckHostname  = envDBConnectArgs + "TLS_CHECK_HOSTNAME"

	envLoggingLevel = "PREFECT_SERVER_LOGGING_LEVEL"

	envEventsBroker            = "PREFECT_SERVER_EVENTS_MESSAGING_BROKER"
	envEventsCache             = "PREFECT_SERVER_EVENTS_MESSAGING_CACHE"
	envEventsOrdering          = "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"
	envEventsRetention         = "PREFECT_SERVER_EVENTS_RETENTION_PERIOD"
	envEventsStreamOut         = "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED"
	envEventsMaxBackfill       = "PREFECT_SERVER_EVENTS_MAXIMUM_WEBSOCKET_BACKFILL"
	envEventsBackfillPageSize  = "PREFECT_SERVER_EVENTS_WEBSOCKET_BACKFILL_PAGE_SIZE"
	envEventsMaxSizeBytes      = "PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES"
	envEventsMaxLabels         = "PREFECT_SERVER_EVENTS_MAXIMUM_LABELS_PER_RESOURCE"
	envEventsMaxRelated        = "PREFECT_SERVER_EVENTS_MAXIMUM_RELATED_RESOURCES"
	envEventsMaxEventNameLen   = "PREFECT_SERVER_EVENTS_MAXIMUM_EVENT_NAME_LENGTH"
	envConcurrencyLeaseStorage = "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"

	envRedisURL      = "PREFECT_REDIS_MESSAGING_URL"
	envRedisHost     = "PREFECT_REDIS_MESSAGING_HOST"
	envRedisPort     = "PREFECT_REDIS_MESSAGING_PORT"
	envRedisDB       = "PREFECT_REDIS_MESSAGING_DB"
	envRedisUsername = "PREFECT_REDIS_MESSAGING_USERNAME"
	envRedisPassword = "PREFECT_REDIS_MESSAGING_PASSWORD"
	envRedisSSL      = "PREFECT_REDIS_MESSAGING_SSL"

	envOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTELServiceName    = "OTEL_SERVICE_NAME"
)

// loadedFields maps each variable Load reads to the Config field it fills.
var loadedFields = map[string]string{
	envHome: "Home",

	envAPIHost:             "API.Host",
	envAPIPort:             "API.Port",
	envAPIDefaultLimit:     "API.DefaultLimit",
	envAPIKeepAlive:        "API.KeepAlive",
	envAPICSRF:             "API.CSRFProtection",
	envAPICORSOrigins:      "API.CORSAllowedOrigins",
	envAPICORSMethods:      "API.CORSAllowedMethods",
	envAPICORSHeaders:      "API.CORSAllowedHeaders",
	envAPIAuthString:       "API.AuthString",
	envAPIMaxParameterSize: "API.MaxParameterSize",

	envDBURL:               "Database.URL",
	envDBDriver:            "Database.URL",
	envDBHost:              "Database.URL",
	envDBPort:              "Database.URL",
	envDBUser:              "Database.URL",
	envDBName:              "Database.URL",
	envDBPassword:          "Database.URL",
	envDBTimeout:           "Database.Timeout",
	envDBConnectionTimeout: "Database.ConnectionTimeout",
	envDBPoolSize:          "Database.PoolSize",
	envDBMaxOverflow:       "Database.MaxOverflow",
	envDBMigrateOnStart:    "Database.MigrateOnStart",
	envDBAppName:           "Database.DSN",
	envDBSearchPath:        "Database.DSN",
	envDBStatementCache:    "Database.DSN",
	envDBPreparedCache:     "Database.DSN",
	envDBTLSEnabled:        "Database.DSN",
	envDBTLSCAFile:         "Database.DSN",
	envDBTLSCertFile:       "Database.DSN",
	envDBTLSKeyFile:        "Database.DSN",
	envDBTLSCheckHostname:  "Database.DSN",

	envLoggingLevel: "Logging.Level",

	envEventsBroker:            "Events.MessagingBroker",
	envEventsCache:             "Events.MessagingCache",
	envEventsOrdering:          "Events.CausalOrdering",
	envEventsRetention:         "Events.RetentionPeriod",
	envEventsStreamOut:         "Events.StreamOut",
	envEventsMaxBackfill:       "Events.MaximumWebsocketBackfill",
	envEventsBackfillPageSize:  "Events.WebsocketBackfillPageSize",
	envEventsMaxSizeBytes:      "Events.MaximumSizeBytes",
	envEventsMaxLabels:         "Events.MaximumLabelsPerResource",
	envEventsMaxRelated:        "Events.MaximumRelatedResources",
	envEventsMaxEventNameLen:   "Events.MaximumEventNameLength",
	envConcurrencyLeaseStorage: "Concurrency.LeaseStorage",

	envRedisURL:      "Redis.URL",
	envRedisHost:     "Redis.Host",
	envRedisPort:     "Redis.Port",
	envRedisDB:       "Redis.DB",
	envRedisUsername: "Redis.Username",
	envRedisPassword: "Redis.Password",
	envRedisSSL:      "Redis.SSL",

	envOTLPTracesEndpoint: "Tracing.OTLPEndpoint",
	envOTLPEndpoint:       "Tracing.OTLPEndpoint",
	envOTELServiceName:    "Tracing.ServiceName",
}
