package workpools

import (
	"encoding/json"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/types"
)

// The filter shapes are Prefect's exactly (schemas/filters.py), narrower
// than the platform's shared ones, so that a field Prefect refuses is a 422.

type anyIDs struct {
	Any *[]uuid.UUID `json:"any_"`
}

type anyNames struct {
	Any *[]string `json:"any_"`
}

// workPoolFilter is Prefect's WorkPoolFilter.
type workPoolFilter struct {
	Operator filter.Operator `json:"operator"`
	ID       *anyIDs         `json:"id"`
	Name     *anyNames       `json:"name"`
	Type     *anyNames       `json:"type"`
}

func (f *workPoolFilter) where() *filter.Where {
	w := filter.WithOperator(string(f.Operator))
	if f.ID != nil {
		w.Group((&filter.IDs{Any: f.ID.Any}).Where("work_pool.id"))
	}
	if f.Name != nil {
		w.Group((&filter.Names{Any: f.Name.Any}).Where("work_pool.name"))
	}
	if f.Type != nil {
		w.Group((&filter.Names{Any: f.Type.Any}).Where("work_pool.type"))
	}
	return w
}

// workQueueFilter is Prefect's WorkQueueFilter.
type workQueueFilter struct {
	Operator filter.Operator `json:"operator"`
	ID       *anyIDs         `json:"id"`
	Name     *struct {
		Any        *[]string `json:"any_"`
		StartsWith []string  `json:"startswith_"`
	} `json:"name"`
}

func (f *workQueueFilter) where() *filter.Where {
	w := filter.WithOperator(string(f.Operator))
	if f.ID != nil {
		w.Group((&filter.IDs{Any: f.ID.Any}).Where("work_queue.id"))
	}
	if f.Name != nil {
		w.Group((&filter.Names{Any: f.Name.Any, StartsWith: f.Name.StartsWith}).Where("work_queue.name"))
	}
	return w
}

// workerFilter is Prefect's WorkerFilter.
type workerFilter struct {
	Operator          filter.Operator `json:"operator"`
	LastHeartbeatTime *struct {
		Before *types.DateTime `json:"before_"`
		After  *types.DateTime `json:"after_"`
	} `json:"last_heartbeat_time"`
	Status *struct {
		Any    *[]workerStatus `json:"any_"`
		NotAny *[]workerStatus `json:"not_any_"`
	} `json:"status"`
}

func (f *workerFilter) where() *filter.Where {
	w := filter.WithOperator(string(f.Operator))
	if t := f.LastHeartbeatTime; t != nil {
		tw := filter.And()
		if t.Before != nil {
			tw.Add("worker.last_heartbeat_time <= ?", *t.Before)
		}
		if t.After != nil {
			tw.Add("worker.last_heartbeat_time >= ?", *t.After)
		}
		w.Group(tw)
	}
	if s := f.Status; s != nil {
		sw := filter.And()
		if s.Any != nil {
			sw.In("worker.status", *s.Any, len(*s.Any))
		}
		if s.NotAny != nil {
			sw.NotIn("worker.status", *s.NotAny, len(*s.NotAny))
		}
		w.Group(sw)
	}
	return w
}

// workerStatus is Prefect's WorkerStatus enum.
type workerStatus string

func (s *workerStatus) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil || (v != workerOnline && v != workerOffline) {
		return &api.ValidationError{Errors: []api.FieldError{{Type: "enum", Loc: []any{"body"},
			Msg: "Input should be 'ONLINE' or 'OFFLINE'", Input: string(b), Ctx: map[string]any{"expected": "'ONLINE' or 'OFFLINE'"}}}}
	}
	*s = workerStatus(v)
	return nil
}

// Filter keys: "work_pools" and "work_queues" on this module's own routes;
// "work_pools" and "work_pool_queues" restrict flow runs (Prefect's
// read_flow_runs parameters), through the run's work_queue_id.
const (
	keyPools      = "work_pools"
	keyQueues     = "work_queues"
	keyPoolQueues = "work_pool_queues"
	keyWorkers    = "workers"
)

func decodeWhere[F interface{ where() *filter.Where }](key string) func(json.RawMessage, *filter.Registry) (*filter.Where, error) {
	return func(raw json.RawMessage, _ *filter.Registry) (*filter.Where, error) {
		var f F
		if err := api.DecodeRaw(raw, &f, key); err != nil {
			return nil, err
		}
		return f.where(), nil
	}
}

// builtModules lists the modules of this build, by the migration sets they
// contribute (every module with tables contributes one).
type builtModules struct {
	fx.In
	Sets []migrate.Set `group:"migrations"`
}

func (b builtModules) has(module string) bool {
	for _, s := range b.Sets {
		if s.Module == module {
			return true
		}
	}
	return false
}

func poolsContributor(built builtModules) filter.Contributor {
	// Flows match by the pools of their deployments; without the
	// deployments module (and its table) no flow has one.
	flowLink := "1 = 0"
	if built.has("deployments") {
		flowLink = "EXISTS (SELECT 1 FROM deployment AS d JOIN work_queue AS wq ON wq.id = d.work_queue_id " +
			"WHERE d.flow_id = flow.id AND wq.work_pool_id = work_pool.id)"
	}
	return filter.Contributor{Key: keyPools, Table: "work_pool",
		Links: map[string]string{
			"flow":       flowLink,
			"work_queue": "work_pool.id = work_queue.work_pool_id",
			"deployment": "work_pool.id IN (SELECT wq.work_pool_id FROM work_queue AS wq WHERE wq.id = deployment.work_queue_id)",
			"task_run": "work_pool.id IN (SELECT wq.work_pool_id FROM work_queue AS wq JOIN flow_run AS fr ON fr.work_queue_id = wq.id " +
				"WHERE fr.id = task_run.flow_run_id)",
		},
		InLinks: map[string]filter.InLink{
			"flow_run": {Outer: "flow_run.work_queue_id", Select: "wq.id",
				Join: "JOIN work_queue AS wq ON wq.work_pool_id = work_pool.id"},
		},
		Where: decodeWhere[*workPoolFilter](keyPools)}
}

// queuesContributor is the legacy "work_queues" filter; the UI's task-run
// dashboard restricts task runs by their flow run's queue with it.
func queuesContributor() filter.Contributor {
	return filter.Contributor{Key: keyQueues, Table: "work_queue",
		Links: map[string]string{
			"task_run": "work_queue.id IN (SELECT fr.work_queue_id FROM flow_run AS fr WHERE fr.id = task_run.flow_run_id)",
		},
		Where: decodeWhere[*workQueueFilter](keyQueues)}
}

func poolQueuesContributor() filter.Contributor {
	return filter.Contributor{Key: keyPoolQueues, Table: "work_queue",
		Links: map[string]string{
			"flow_run":   "work_queue.id = flow_run.work_queue_id",
			"deployment": "work_queue.id = deployment.work_queue_id",
		},
		Where: decodeWhere[*workQueueFilter](keyPoolQueues)}
}

func workersContributor() filter.Contributor {
	return filter.Contributor{Key: keyWorkers, Table: "worker", Where: decodeWhere[*workerFilter](keyWorkers)}
}
