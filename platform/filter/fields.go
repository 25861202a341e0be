package filter

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
)

// The field filters below are the shapes Prefect's filter models share
// (FlowFilterId, VariableFilterName, FlowFilterTags, ...). A module's filter
// embeds them and calls Where with its column; each Where is nil-safe, and
// Where.Group skips a nil result, so absent fields add nothing.

// Operator is Prefect's "and_" / "or_" combinator.
type Operator string

// UnmarshalJSON accepts only Prefect's two values.
func (o *Operator) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || (s != "and_" && s != "or_") {
		var input any = string(b)
		if err == nil {
			input = s
		}
		return &api.ValidationError{Errors: []api.FieldError{{Type: "enum", Loc: []any{"body", "operator"},
			Msg: "Input should be 'and_' or 'or_'", Input: input, Ctx: map[string]any{"expected": "'and_' or 'or_'"}}}}
	}
	*o = Operator(s)
	return nil
}

// IDs filters a UUID column: any_ (an empty list matches nothing), not_any_.
type IDs struct {
	Any    *[]uuid.UUID `json:"any_"`
	NotAny []uuid.UUID  `json:"not_any_"`
}

// Where renders the filter on col.
func (f *IDs) Where(col string) *Where {
	if f == nil {
		return nil
	}
	w := And()
	if f.Any != nil {
		w.In(col, *f.Any, len(*f.Any))
	}
	return w.NotIn(col, f.NotAny, len(f.NotAny))
}

// Names filters a text column: any_ (exact), like_ (case-insensitive
// contains), not_any_, startswith_.
type Names struct {
	Any        *[]string `json:"any_"`
	NotAny     []string  `json:"not_any_"`
	Like       *string   `json:"like_"`
	StartsWith []string  `json:"startswith_"`
}

// Where renders the filter on col.
func (f *Names) Where(col string) *Where {
	if f == nil {
		return nil
	}
	w := And()
	if f.Any != nil {
		w.In(col, *f.Any, len(*f.Any))
	}
	w.NotIn(col, f.NotAny, len(f.NotAny))
	if f.Like != nil && *f.Like != "" {
		w.ILike(col, *f.Like)
	}
	if len(f.StartsWith) > 0 {
		or := WithOperator("or_")
		for _, p := range f.StartsWith {
			or.Add("LOWER("+col+") LIKE LOWER(?)", p+"%")
		}
		w.Group(or)
	}
	return w
}

// Tags filters a JSON array column: all_ (superset), any_ (overlap),
// is_null_ (empty or not), combined by operator.
type Tags struct {
	Operator Operator  `json:"operator"`
	All      []string  `json:"all_"`
	Any      *[]string `json:"any_"`
	IsNull   *bool     `json:"is_null_"`
}

// Where renders the filter on col.
func (f *Tags) Where(col string) *Where {
	if f == nil {
		return nil
	}
	w := WithOperator(string(f.Operator))
	w.JSONHasAll(col, f.All)
	if f.Any != nil {
		w.JSONHasAny(col, *f.Any)
	}
	if f.IsNull != nil {
		w.JSONEmpty(col, *f.IsNull)
	}
	return w
}
