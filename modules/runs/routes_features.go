package runs

import (
	"net/http"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/logs"
	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
)

// featureHandlers serve the read paths, bulk operations and UI routes
// built on the runs tables (history, graph, bulk, labels, logs download).
type featureHandlers struct {
	*handlers
	logs      *logs.Reader   // nil without the logs module: no logs exist
	artifacts GraphArtifacts // nil without the artifacts module
	log       *zap.Logger
}

type featureDeps struct {
	fx.In
	Repo      *repo
	Config    config.API
	Logs      *logs.Reader   `optional:"true"` // logs is core; test apps may leave it out
	Artifacts GraphArtifacts `optional:"true"`
	Log       *zap.Logger
}

func newFeatureRoutes(d featureDeps) api.Routes {
	h := &handlers{repo: d.Repo, cfg: d.Config}
	f := &featureHandlers{handlers: h, logs: d.Logs, artifacts: d.Artifacts, log: d.Log.Named("runs")}
	return api.Routes{Module: "runs", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/flow_runs/history", Handler: h.history(flowRunHistory)},
		{Method: http.MethodPost, Path: "/task_runs/history", Handler: h.history(taskRunHistory)},
		{Method: http.MethodPost, Path: "/flow_runs/lateness", Handler: h.lateness},
		{Method: http.MethodPost, Path: "/flow_runs/bulk_delete", Handler: f.bulkDelete},
		{Method: http.MethodPost, Path: "/flow_runs/bulk_set_state", Handler: f.bulkSetState},
		{Method: http.MethodPatch, Path: "/flow_runs/{id}/labels", Handler: f.patchLabels},
		{Method: http.MethodPatch, Path: "/task_runs/{id}", Handler: api.PatchByID(taskRunNotFound, h.repo.updateTaskRun)},
		{Method: http.MethodGet, Path: "/flow_runs/{id}/graph", Handler: f.graphV1},
		{Method: http.MethodGet, Path: "/flow_runs/{id}/graph-v2", Handler: f.graphV2},
		{Method: http.MethodGet, Path: "/flow_runs/{id}/logs/download", Handler: f.downloadLogs},
		{Method: http.MethodPost, Path: "/ui/flow_runs/history", Handler: h.uiFlowRunHistory},
		{Method: http.MethodPost, Path: "/ui/flow_runs/count-task-runs", Handler: h.countTaskRunsByFlowRun},
		{Method: http.MethodPost, Path: "/ui/task_runs/dashboard/counts", Handler: h.dashboardCounts},
		{Method: http.MethodPost, Path: "/ui/task_runs/count", Handler: h.taskRunCountsByState},
		{Method: http.MethodGet, Path: "/ui/task_runs/{id}", Handler: h.readUITaskRun},
		{Method: http.MethodPost, Path: "/ui/flows/next-runs", Handler: h.nextRuns},
	}}
}
