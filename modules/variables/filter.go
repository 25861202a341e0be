package variables

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
)

// variableFilter is Prefect's VariableFilter.
type variableFilter struct {
	Operator string              `json:"operator"`
	ID       *variableFilterID   `json:"id"`
	Name     *variableFilterName `json:"name"`
	Tags     *variableFilterTags `json:"tags"`
}

type variableFilterID struct {
	Any *[]uuid.UUID `json:"any_"`
}

type variableFilterName struct {
	Any  *[]string `json:"any_"`
	Like *string   `json:"like_"`
}

type variableFilterTags struct {
	Operator string   `json:"operator"`
	All      []string `json:"all_"`
	IsNull   *bool    `json:"is_null_"`
}

func (f *variableFilter) Validate() []api.FieldError {
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

// where renders the filter on the "variable" table as Prefect's
// VariableFilter._get_filter_list does, through the platform's shared field
// filters. The structs above stay Prefect's exact shapes, narrower than the
// shared ones (no not_any_, startswith_ or tags any_), so that a field
// Prefect refuses is a 422 here too.
func (f *variableFilter) where() *filter.Where {
	w := filter.WithOperator(f.Operator)
	if f.ID != nil {
		w.Group((&filter.IDs{Any: f.ID.Any}).Where("variable.id"))
	}
	if f.Name != nil {
		w.Group((&filter.Names{Any: f.Name.Any, Like: f.Name.Like}).Where("variable.name"))
	}
	if f.Tags != nil {
		w.Group((&filter.Tags{Operator: filter.Operator(f.Tags.Operator), All: f.Tags.All, IsNull: f.Tags.IsNull}).Where("variable.tags"))
	}
	return w
}

// contributor applies the variables filter on the variables endpoints; no
// other table relates to variables.
func contributor() filter.Contributor {
	return filter.Contributor{
		Key:   "variables",
		Table: "variable",
		Where: func(raw json.RawMessage, _ *filter.Registry) (*filter.Where, error) {
			var f variableFilter
			if err := api.DecodeRaw(raw, &f, "variables"); err != nil {
				return nil, err
			}
			return f.where(), nil
		},
	}
}
