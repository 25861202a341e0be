package flows

import (
	"encoding/json"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
)

// flowFilter is Prefect's FlowFilter.
type flowFilter struct {
	Operator   filter.Operator   `json:"operator"`
	ID         *filter.IDs       `json:"id"`
	Deployment *flowFilterDeploy `json:"deployment"`
	Name       *filter.Names     `json:"name"`
	Tags       *filter.Tags      `json:"tags"`
}

// flowFilterDeploy is Prefect's FlowFilterDeployment.
type flowFilterDeploy struct {
	Operator filter.Operator `json:"operator"`
	IsNull   *bool           `json:"is_null_"`
}

// where renders the filter on the "flow" table as Prefect's
// FlowFilter._get_filter_list does.
func (f *flowFilter) where(reg *filter.Registry) (*filter.Where, error) {
	w := filter.WithOperator(string(f.Operator))
	w.Group(f.ID.Where("flow.id"))
	if f.Deployment != nil && f.Deployment.IsNull != nil {
		// The deployments module owns that table: ask the registry.
		has, err := reg.Exists("flow", "deployments", json.RawMessage("{}"))
		if err != nil {
			return nil, err
		}
		if *f.Deployment.IsNull {
			w.Not(has)
		} else {
			w.Group(has)
		}
	}
	w.Group(f.Name.Where("flow.name"))
	w.Group(f.Tags.Where("flow.tags"))
	return w, nil
}

// contributor lets every module filter by flows (e.g. flow runs of flows
// with a tag) and lets the flows endpoints apply their own filter.
func contributor() filter.Contributor {
	return filter.Contributor{
		Key:   "flows",
		Table: "flow",
		Links: map[string]string{
			"flow_run":   "flow.id = flow_run.flow_id",
			"task_run":   "flow.id = (SELECT fr.flow_id FROM flow_run AS fr WHERE fr.id = task_run.flow_run_id)",
			"deployment": "flow.id = deployment.flow_id",
		},
		Where: func(raw json.RawMessage, reg *filter.Registry) (*filter.Where, error) {
			var f flowFilter
			if err := api.DecodeRaw(raw, &f, "flows"); err != nil {
				return nil, err
			}
			return f.where(reg)
		},
	}
}
