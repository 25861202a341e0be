package workpools

import (
	"net/http"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
)

// newRoutes lists every route of Prefect's api/workers.py, api/work_queues.py
// and api/collections.py except the worker websocket
// (/work_pools/{name}/workers/connect): unmatched, it answers 404, and the
// 3.9.1 worker then falls back to polling and REST heartbeats.
func newRoutes(pools *poolRepo, sched *scheduler, cfg config.API) api.Routes {
	p := newPoolHandlers(pools, cfg)
	q := &queueHandlers{repo: &queueRepo{poolRepo: pools}, cfg: cfg}
	wk := &workerHandlers{pools: pools, cfg: cfg}
	poll := &pollHandlers{sched: sched, cfg: cfg}
	return api.Routes{Module: "workpools", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/work_pools", Handler: p.create},
		{Method: http.MethodPost, Path: "/work_pools/filter", Handler: p.filter},
		{Method: http.MethodPost, Path: "/work_pools/count", Handler: p.count},
		{Method: http.MethodGet, Path: "/work_pools/{name}", Handler: p.read},
		{Method: http.MethodPatch, Path: "/work_pools/{name}", Handler: p.update},
		{Method: http.MethodDelete, Path: "/work_pools/{name}", Handler: p.delete},
		{Method: http.MethodPost, Path: "/work_pools/{name}/get_scheduled_flow_runs", Handler: poll.scheduledFlowRuns},
		{Method: http.MethodPost, Path: "/work_pools/{name}/concurrency_status", Handler: poll.poolConcurrencyStatus},
		{Method: http.MethodPost, Path: "/work_pools/{work_pool_name}/queues", Handler: q.poolCreate},
		{Method: http.MethodPost, Path: "/work_pools/{work_pool_name}/queues/filter", Handler: q.poolFilter},
		{Method: http.MethodGet, Path: "/work_pools/{work_pool_name}/queues/{name}", Handler: q.poolRead},
		{Method: http.MethodPatch, Path: "/work_pools/{work_pool_name}/queues/{name}", Handler: q.poolUpdate},
		{Method: http.MethodDelete, Path: "/work_pools/{work_pool_name}/queues/{name}", Handler: q.poolDelete},
		{Method: http.MethodPost, Path: "/work_pools/{work_pool_name}/workers/heartbeat", Handler: wk.heartbeat},
		{Method: http.MethodPost, Path: "/work_pools/{work_pool_name}/workers/filter", Handler: wk.filter},
		{Method: http.MethodDelete, Path: "/work_pools/{work_pool_name}/workers/{name}", Handler: wk.delete},
		{Method: http.MethodPost, Path: "/work_queues", Handler: q.legacyCreate},
		{Method: http.MethodPost, Path: "/work_queues/filter", Handler: q.legacyFilter},
		{Method: http.MethodGet, Path: "/work_queues/name/{name}", Handler: q.legacyReadByName},
		{Method: http.MethodGet, Path: "/work_queues/{id}", Handler: q.legacyRead},
		{Method: http.MethodPatch, Path: "/work_queues/{id}", Handler: q.legacyUpdate},
		{Method: http.MethodDelete, Path: "/work_queues/{id}", Handler: q.legacyDelete},
		{Method: http.MethodPost, Path: "/work_queues/{id}/get_runs", Handler: poll.legacyRuns},
		{Method: http.MethodGet, Path: "/work_queues/{id}/status", Handler: poll.status},
		{Method: http.MethodPost, Path: "/work_queues/{id}/concurrency_status", Handler: poll.queueConcurrencyStatus},
		{Method: http.MethodGet, Path: "/collections/views/{view}", Handler: readView},
	}}
}
