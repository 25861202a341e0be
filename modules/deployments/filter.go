package deployments

import (
	"encoding/json"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
)

// deploymentFilter is Prefect's DeploymentFilter.
type deploymentFilter struct {
	Operator             filter.Operator `json:"operator"`
	ID                   *filter.IDs     `json:"id"`
	Name                 *filter.Names   `json:"name"`
	FlowOrDeploymentName *struct {
		Like *string `json:"like_"`
	} `json:"flow_or_deployment_name"`
	Paused *struct {
		Eq *bool `json:"eq_"`
	} `json:"paused"`
	Tags          *filter.Tags  `json:"tags"`
	WorkQueueName *filter.Names `json:"work_queue_name"`
	// ConcurrencyLimit is deprecated in Prefect and ignored there too.
	ConcurrencyLimit json.RawMessage `json:"concurrency_limit"`
}

// where renders the filter on the "deployment" table as Prefect's
// DeploymentFilter._get_filter_list does.
func (f *deploymentFilter) where() *filter.Where {
	w := filter.WithOperator(string(f.Operator))
	w.Group(f.ID.Where("deployment.id"))
	w.Group(f.Name.Where("deployment.name"))
	if f.FlowOrDeploymentName != nil && f.FlowOrDeploymentName.Like != nil && *f.FlowOrDeploymentName.Like != "" {
		like := *f.FlowOrDeploymentName.Like
		or := filter.WithOperator("or_")
		or.ILike("deployment.name", like)
		or.Group(filter.And().Add("EXISTS (SELECT 1 FROM flow AS dflow WHERE dflow.id = deployment.flow_id AND LOWER(dflow.name) LIKE LOWER(?))", "%"+like+"%"))
		w.Group(or)
	}
	if f.Paused != nil && f.Paused.Eq != nil {
		w.Add("deployment.paused = ?", *f.Paused.Eq)
	}
	w.Group(f.Tags.Where("deployment.tags"))
	w.Group(f.WorkQueueName.Where("deployment.work_queue_name"))
	return w
}

// contributor lets every module filter by deployments (e.g. the flow runs
// of deployments with a tag) and the deployments endpoints apply their own.
func contributor() filter.Contributor {
	return filter.Contributor{
		Key:   "deployments",
		Table: "deployment",
		Links: map[string]string{
			"flow":     "deployment.flow_id = flow.id",
			"flow_run": "deployment.id = flow_run.deployment_id",
			"task_run": "deployment.id = (SELECT dfr.deployment_id FROM flow_run AS dfr WHERE dfr.id = task_run.flow_run_id)",
		},
		Where: func(raw json.RawMessage, _ *filter.Registry) (*filter.Where, error) {
			var f deploymentFilter
			if err := api.DecodeRaw(raw, &f, "deployments"); err != nil {
				return nil, err
			}
			return f.where(), nil
		},
	}
}
