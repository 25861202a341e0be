package admin

import (
	"net/http"
	"strings"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
)

// settings shows the server's effective settings in the shape of Prefect's
// Settings model (the part this server reads), secrets masked.
func (h *handlers) settings(w http.ResponseWriter, _ *http.Request) error {
	return api.WriteJSON(w, http.StatusOK, settingsView(h.cfg))
}

const masked = "********"

func settingsView(c config.Config) map[string]any {
	return map[string]any{
		"home": c.Home,
		"server": map[string]any{
			"logging_level": c.Logging.Level,
			"api": map[string]any{
				"host":                    c.API.Host,
				"port":                    c.API.Port,
				"default_limit":           c.API.DefaultLimit,
				"keepalive_timeout":       c.API.KeepAlive.Seconds(),
				"csrf_protection_enabled": c.API.CSRFProtection,
				"cors_allowed_origins":    strings.Join(c.API.CORSAllowedOrigins, ","),
				"cors_allowed_methods":    strings.Join(c.API.CORSAllowedMethods, ","),
				"cors_allowed_headers":    strings.Join(c.API.CORSAllowedHeaders, ","),
			},
			"database": map[string]any{
				"connection_url":   masked,
				"migrate_on_start": c.Database.MigrateOnStart,
				"timeout":          c.Database.Timeout.Seconds(),
				"sqlalchemy": map[string]any{
					"pool_size":    c.Database.PoolSize,
					"max_overflow": c.Database.MaxOverflow,
				},
				"connection_timeout": c.Database.ConnectionTimeout.Seconds(),
			},
			"events": map[string]any{
				"messaging_broker":   brokerModule(c.Events.MessagingBroker, "prefect.server.utilities.messaging.memory", "prefect_redis.messaging"),
				"messaging_cache":    brokerModule(c.Events.MessagingCache, "prefect.server.utilities.messaging.memory", "prefect_redis.messaging"),
				"causal_ordering":    brokerModule(c.Events.CausalOrdering, "prefect.server.events.ordering.memory", "prefect_redis.ordering"),
				"retention_period":   c.Events.RetentionPeriod.Seconds(),
				"stream_out_enabled": c.Events.StreamOut,
			},
			"concurrency": map[string]any{
				"lease_storage": brokerModule(c.Concurrency.LeaseStorage, "prefect.server.concurrency.lease_storage.memory", "prefect_redis.lease_storage"),
			},
		},
	}
}

func brokerModule(k config.BrokerKind, memory, redis string) string {
	if k == config.KindRedis {
		return redis
	}
	return memory
}
