package flows

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
)

// flowFilter is Prefect's FlowFilter.
type flowFilter struct {
	Operator   string            `json:"operator"`
	ID         *flowFilterID     `json:"id"`
	Deployment *flowFilterDeploy `json:"deployment"`
	Name       *flowFilterName   `json:"name"`
	Tags       *flowFilterTags   `json:"tags"`
}

type flowFilterID struct {
	Any    *[]uuid.UUID `json:"any_"`
	NotAny []uuid.UUID  `json:"not_any_"`
}

type flowFilterDeploy struct {
	Operator string `json:"operator"`
	IsNull   *bool  `json:"is_null_"`
}

type flowFilterName struct {
	Any  *[]string `json:"any_"`
	Like *string   `json:"like_"`
}

type flowFilterTags struct {
	Operator string   `json:"operator"`
	All      []string `json:"all_"`
	IsNull   *bool    `json:"is_null_"`
}

func (f *flowFilter) Validate() []api.FieldError {
	var errs []api.FieldError
	for _, op := range []string{f.Operator, opOf(f.Deployment), opOfTags(f.Tags)} {
		if op != "" && op != "and_" && op != "or_" {
			errs = append(errs, api.FieldError{Type: "enum", Loc: []any{"body", "operator"},
				Msg: "Input should be 'and_' or 'or_'", Input: op, Ctx: map[string]any{"expected": "'and_' or 'or_'"}})
		}
	}
	return errs
}

func opOf(d *flowFilterDeploy) string {
	if d == nil {
		return ""
	}
	return d.Operator
}

func opOfTags(t *flowFilterTags) string {
	if t == nil {
		return ""
	}
	return t.Operator
}

// where renders the filter on the "flow" table as Prefect's
// FlowFilter._get_filter_list does.
func (f *flowFilter) where(reg *filter.Registry) (*filter.Where, error) {
	w := filter.WithOperator(f.Operator)
	if f.ID != nil {
		sub := filter.And()
		if f.ID.Any != nil {
			sub.In("flow.id", *f.ID.Any, len(*f.ID.Any))
		}
		sub.NotIn("flow.id", f.ID.NotAny, len(f.ID.NotAny))
		w.Group(sub)
	}
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
	if f.Name != nil {
		sub := filter.And()
		if f.Name.Any != nil {
			sub.In("flow.name", *f.Name.Any, len(*f.Name.Any))
		}
		if f.Name.Like != nil && *f.Name.Like != "" {
			sub.ILike("flow.name", *f.Name.Like)
		}
		w.Group(sub)
	}
	if f.Tags != nil {
		sub := filter.WithOperator(f.Tags.Operator)
		sub.JSONHasAll("flow.tags", f.Tags.All)
		if f.Tags.IsNull != nil {
			sub.JSONEmpty("flow.tags", *f.Tags.IsNull)
		}
		w.Group(sub)
	}
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
