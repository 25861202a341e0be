package runs

import (
	"encoding/json"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// idsNull is an id filter with is_null_ (FlowRunFilterDeploymentId, ...).
type idsNull struct {
	Operator filter.Operator `json:"operator"`
	Any      *[]uuid.UUID    `json:"any_"`
	IsNull   *bool           `json:"is_null_"`
}

func (f *idsNull) where(col string) *filter.Where {
	if f == nil {
		return nil
	}
	w := filter.WithOperator(string(f.Operator))
	if f.Any != nil {
		w.In(col, *f.Any, len(*f.Any))
	}
	if f.IsNull != nil {
		w.IsNull(col, *f.IsNull)
	}
	return w
}

// namesNull is a text filter with any_, not_any_ and is_null_.
type namesNull struct {
	Operator filter.Operator `json:"operator"`
	Any      *[]string       `json:"any_"`
	NotAny   []string        `json:"not_any_"`
	IsNull   *bool           `json:"is_null_"`
}

func (f *namesNull) where(col string) *filter.Where {
	if f == nil {
		return nil
	}
	w := filter.WithOperator(string(f.Operator))
	if f.Any != nil {
		w.In(col, *f.Any, len(*f.Any))
	}
	w.NotIn(col, f.NotAny, len(f.NotAny))
	if f.IsNull != nil {
		w.IsNull(col, *f.IsNull)
	}
	return w
}

// times is a datetime filter: before_, after_ (inclusive), is_null_.
type times struct {
	Before *types.DateTime `json:"before_"`
	After  *types.DateTime `json:"after_"`
	IsNull *bool           `json:"is_null_"`
}

func (f *times) where(col string) *filter.Where {
	if f == nil {
		return nil
	}
	w := filter.And()
	if f.Before != nil {
		w.Add(col+" <= ?", *f.Before)
	}
	if f.After != nil {
		w.Add(col+" >= ?", *f.After)
	}
	if f.IsNull != nil {
		w.IsNull(col, *f.IsNull)
	}
	return w
}

// stateFilter is FlowRunFilterState / TaskRunFilterState.
type stateFilter struct {
	Operator filter.Operator `json:"operator"`
	Type     *struct {
		Any    *[]o.StateType `json:"any_"`
		NotAny []o.StateType  `json:"not_any_"`
	} `json:"type"`
	Name *struct {
		Any    *[]string `json:"any_"`
		NotAny []string  `json:"not_any_"`
	} `json:"name"`
}

func (f *stateFilter) where(table string) *filter.Where {
	if f == nil {
		return nil
	}
	w := filter.WithOperator(string(f.Operator))
	if f.Type != nil {
		t := filter.And()
		if f.Type.Any != nil {
			t.In(table+".state_type", *f.Type.Any, len(*f.Type.Any))
		}
		t.NotIn(table+".state_type", f.Type.NotAny, len(f.Type.NotAny))
		w.Group(t)
	}
	if f.Name != nil {
		n := filter.And()
		if f.Name.Any != nil {
			n.In(table+".state_name", *f.Name.Any, len(*f.Name.Any))
		}
		n.NotIn(table+".state_name", f.Name.NotAny, len(f.Name.NotAny))
		w.Group(n)
	}
	return w
}

// flowRunFilter is Prefect's FlowRunFilter.
type flowRunFilter struct {
	Operator               filter.Operator `json:"operator"`
	ID                     *filter.IDs     `json:"id"`
	Name                   *filter.Names   `json:"name"`
	Tags                   *filter.Tags    `json:"tags"`
	DeploymentID           *idsNull        `json:"deployment_id"`
	WorkQueueName          *namesNull      `json:"work_queue_name"`
	State                  *stateFilter    `json:"state"`
	FlowVersion            *namesNull      `json:"flow_version"`
	StartTime              *times          `json:"start_time"`
	EndTime                *times          `json:"end_time"`
	ExpectedStartTime      *times          `json:"expected_start_time"`
	NextScheduledStartTime *times          `json:"next_scheduled_start_time"`
	ParentFlowRunID        *idsNull        `json:"parent_flow_run_id"`
	ParentTaskRunID        *idsNull        `json:"parent_task_run_id"`
	IdempotencyKey         *namesNull      `json:"idempotency_key"`
	CreatedBy              *struct {
		Operator filter.Operator `json:"operator"`
		ID       *[]uuid.UUID    `json:"id_"`
		Type     *[]string       `json:"type_"`
		IsNull   *bool           `json:"is_null_"`
	} `json:"created_by"`
}

func (f *flowRunFilter) where() *filter.Where {
	w := filter.WithOperator(string(f.Operator))
	w.Group(f.ID.Where("flow_run.id"))
	w.Group(f.Name.Where("flow_run.name"))
	w.Group(f.Tags.Where("flow_run.tags"))
	w.Group(f.DeploymentID.where("flow_run.deployment_id"))
	w.Group(f.WorkQueueName.where("flow_run.work_queue_name"))
	w.Group(f.State.where("flow_run"))
	w.Group(f.FlowVersion.where("flow_run.flow_version"))
	w.Group(f.StartTime.where("flow_run.start_time"))
	w.Group(f.EndTime.where("flow_run.end_time"))
	w.Group(f.ExpectedStartTime.where("flow_run.expected_start_time"))
	w.Group(f.NextScheduledStartTime.where("flow_run.next_scheduled_start_time"))
	if p := f.ParentFlowRunID; p != nil && p.Any != nil {
		// Runs whose parent task run belongs to one of the flow runs.
		if len(*p.Any) == 0 {
			w.Add("1 = 0")
		} else {
			w.Add("flow_run.parent_task_run_id IN (SELECT ptr.id FROM task_run AS ptr WHERE ptr.flow_run_id IN (?))", bun.In(*p.Any))
		}
	}
	w.Group(f.ParentTaskRunID.where("flow_run.parent_task_run_id"))
	w.Group(f.IdempotencyKey.where("flow_run.idempotency_key"))
	if c := f.CreatedBy; c != nil {
		sub := filter.WithOperator(string(c.Operator))
		if c.ID != nil {
			ids := make([]string, len(*c.ID))
			for i, id := range *c.ID {
				ids[i] = id.String()
			}
			sub.JSONFieldIn("flow_run.created_by", "id", ids)
		}
		if c.Type != nil {
			sub.JSONFieldIn("flow_run.created_by", "type", *c.Type)
		}
		if c.IsNull != nil {
			sub.IsNull("flow_run.created_by", *c.IsNull)
		}
		w.Group(sub)
	}
	return w
}

// taskRunFilter is Prefect's TaskRunFilter.
type taskRunFilter struct {
	Operator          filter.Operator `json:"operator"`
	ID                *filter.IDs     `json:"id"`
	Name              *filter.Names   `json:"name"`
	Tags              *filter.Tags    `json:"tags"`
	State             *stateFilter    `json:"state"`
	StartTime         *times          `json:"start_time"`
	EndTime           *times          `json:"end_time"`
	ExpectedStartTime *times          `json:"expected_start_time"`
	SubflowRuns       *struct {
		Exists *bool `json:"exists_"`
	} `json:"subflow_runs"`
	FlowRunID *idsNull `json:"flow_run_id"`
}

func (f *taskRunFilter) where() *filter.Where {
	w := filter.WithOperator(string(f.Operator))
	w.Group(f.ID.Where("task_run.id"))
	w.Group(f.Name.Where("task_run.name"))
	w.Group(f.Tags.Where("task_run.tags"))
	w.Group(f.State.where("task_run"))
	w.Group(f.StartTime.where("task_run.start_time"))
	w.Group(f.EndTime.where("task_run.end_time"))
	w.Group(f.ExpectedStartTime.where("task_run.expected_start_time"))
	if s := f.SubflowRuns; s != nil && s.Exists != nil {
		const sub = "EXISTS (SELECT 1 FROM flow_run AS sfr WHERE sfr.parent_task_run_id = task_run.id)"
		if *s.Exists {
			w.Add(sub)
		} else {
			w.Add("NOT " + sub)
		}
	}
	w.Group(f.FlowRunID.where("task_run.flow_run_id"))
	return w
}

// contributors let other modules filter by flow runs and task runs (e.g.
// POST /flows/filter with "flow_runs"), and let this module apply its own.
func contributors() []filter.Contributor {
	return []filter.Contributor{
		{
			Key: "flow_runs", Table: "flow_run",
			Links: map[string]string{
				"flow":       "flow_run.flow_id = flow.id",
				"task_run":   "flow_run.id = task_run.flow_run_id",
				"deployment": "flow_run.deployment_id = deployment.id",
			},
			Where: func(raw json.RawMessage, _ *filter.Registry) (*filter.Where, error) {
				var f flowRunFilter
				if err := api.DecodeRaw(raw, &f, "flow_runs"); err != nil {
					return nil, err
				}
				return f.where(), nil
			},
		},
		{
			Key: "task_runs", Table: "task_run",
			Links: map[string]string{
				"flow":     "task_run.flow_run_id IN (SELECT trf.id FROM flow_run AS trf WHERE trf.flow_id = flow.id)",
				"flow_run": "task_run.flow_run_id = flow_run.id",
			},
			Where: func(raw json.RawMessage, _ *filter.Registry) (*filter.Where, error) {
				var f taskRunFilter
				if err := api.DecodeRaw(raw, &f, "task_runs"); err != nil {
					return nil, err
				}
				return f.where(), nil
			},
		},
	}
}
