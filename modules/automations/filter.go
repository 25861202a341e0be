package automations

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// automationFilter is Prefect's AutomationFilter.
type automationFilter struct {
	Operator string                   `json:"operator"`
	ID       *automationFilterID      `json:"id"`
	Name     *automationFilterName    `json:"name"`
	Created  *automationFilterCreated `json:"created"`
	Tags     *automationFilterTags    `json:"tags"`
}

type automationFilterID struct {
	Any *[]uuid.UUID `json:"any_"`
}

type automationFilterName struct {
	Any *[]string `json:"any_"`
}

type automationFilterCreated struct {
	Before *types.DateTime `json:"before_"`
}

type automationFilterTags struct {
	Operator string    `json:"operator"`
	All      []string  `json:"all_"`
	Any      *[]string `json:"any_"`
	IsNull   *bool     `json:"is_null_"`
}

func (f *automationFilter) Validate() []api.FieldError {
	errs := checkOperator(f.Operator, "operator")
	if f.Tags != nil {
		errs = append(errs, checkOperator(f.Tags.Operator, "tags", "operator")...)
	}
	return errs
}

func checkOperator(op string, loc ...any) []api.FieldError {
	if op == "" || op == "and_" || op == "or_" {
		return nil
	}
	return []api.FieldError{{Type: "enum", Loc: append([]any{"body"}, loc...),
		Msg: "Input should be 'and_' or 'or_'", Input: op, Ctx: map[string]any{"expected": "'and_' or 'or_'"}}}
}

// where renders the filter on the automation table as Prefect's
// AutomationFilter._get_filter_list does.
func (f *automationFilter) where() *filter.Where {
	w := filter.WithOperator(f.Operator)
	if f.ID != nil {
		w.Group((&filter.IDs{Any: f.ID.Any}).Where("automation.id"))
	}
	if f.Name != nil {
		w.Group((&filter.Names{Any: f.Name.Any}).Where("automation.name"))
	}
	if f.Created != nil && f.Created.Before != nil {
		w.Group(filter.And().Add("automation.created <= ?", *f.Created.Before))
	}
	if f.Tags != nil {
		w.Group((&filter.Tags{Operator: filter.Operator(f.Tags.Operator), All: f.Tags.All, Any: f.Tags.Any,
			IsNull: f.Tags.IsNull}).Where("automation.tags"))
	}
	return w
}

// contributor applies the automations filter on the automations endpoints.
func contributor() filter.Contributor {
	return filter.Contributor{
		Key:   "automations",
		Table: "automation",
		Where: func(raw json.RawMessage, _ *filter.Registry) (*filter.Where, error) {
			var f automationFilter
			if err := api.DecodeRaw(raw, &f, "automations"); err != nil {
				return nil, err
			}
			return f.where(), nil
		},
	}
}
