package api

import (
	"fmt"
	"net/http"
	"strings"
)

// Page is the limit/offset pair of Prefect's list endpoints. Limit is a
// pointer because an absent or null limit means the server's default.
type Page struct {
	Limit  *int
	Offset int
}

// Params returns the body parameters Page decodes from.
func (p *Page) Params() Params { return Params{"limit": &p.Limit, "offset": &p.Offset} }

// Resolve applies Prefect's LimitBody rules: a null limit is the default;
// a negative one or one above the default is a 422 with a plain detail.
func (p *Page) Resolve(defaultLimit int) (int, error) {
	if p.Offset < 0 {
		return 0, &ValidationError{Errors: []FieldError{{
			Type: "greater_than_equal", Loc: []any{"body", "offset"},
			Msg: "Input should be greater than or equal to 0", Input: p.Offset, Ctx: map[string]any{"ge": 0},
		}}}
	}
	return ResolveLimit(p.Limit, defaultLimit)
}

// ResolveLimit applies Prefect's LimitBody rules to a limit alone.
func ResolveLimit(limit *int, defaultLimit int) (int, error) {
	if limit == nil {
		return defaultLimit, nil
	}
	if *limit < 0 {
		return 0, &Error{Status: http.StatusUnprocessableEntity, Detail: "Invalid limit: must be greater than or equal to 0."}
	}
	if *limit > defaultLimit {
		return 0, &Error{Status: http.StatusUnprocessableEntity, Detail: fmt.Sprintf("Invalid limit: must be less than or equal to %d.", defaultLimit)}
	}
	return *limit, nil
}

// PageNumber is the page/limit pair of Prefect's /paginate endpoints.
type PageNumber struct {
	Limit *int
	Page  int
}

// Params returns the body parameters PageNumber decodes from.
func (p *PageNumber) Params() Params { return Params{"limit": &p.Limit, "page": &p.Page} }

// Resolve returns limit and offset; page starts at 1.
func (p *PageNumber) Resolve(defaultLimit int) (limit, offset int, err error) {
	if p.Page == 0 {
		p.Page = 1
	}
	if p.Page < 1 {
		return 0, 0, &ValidationError{Errors: []FieldError{{
			Type: "greater_than_equal", Loc: []any{"body", "page"},
			Msg: "Input should be greater than or equal to 1", Input: p.Page, Ctx: map[string]any{"ge": 1},
		}}}
	}
	limit, err = ResolveLimit(p.Limit, defaultLimit)
	return limit, (p.Page - 1) * limit, err
}

// Paginated is the body of a /paginate response.
type Paginated[T any] struct {
	Results []T `json:"results"`
	Count   int `json:"count"`
	Limit   int `json:"limit"`
	Pages   int `json:"pages"`
	Page    int `json:"page"`
}

// NewPaginated fills in the page count as Prefect computes it.
func NewPaginated[T any](results []T, count, limit, page int) Paginated[T] {
	pages := 0
	if limit > 0 {
		pages = (count + limit - 1) / limit
	}
	if results == nil {
		results = []T{}
	}
	return Paginated[T]{Results: results, Count: count, Limit: limit, Pages: pages, Page: page}
}

// Enum is a string parameter limited to a set of values, validated as
// pydantic validates an Enum.
type Enum struct {
	Value   string
	allowed []string
}

// NewEnum makes an Enum with a default value.
func NewEnum(def string, allowed ...string) *Enum { return &Enum{Value: def, allowed: allowed} }

// UnmarshalJSON reads the string; Validate checks it.
func (e *Enum) UnmarshalJSON(b []byte) error {
	var s string
	if err := strictUnmarshal(b, &s, nil); err != nil {
		return err
	}
	e.Value = s
	return nil
}

// Validate reports a value outside the allowed set.
func (e *Enum) Validate() []FieldError {
	for _, a := range e.allowed {
		if e.Value == a {
			return nil
		}
	}
	quoted := make([]string, len(e.allowed))
	for i, a := range e.allowed {
		quoted[i] = "'" + a + "'"
	}
	expected := strings.Join(quoted, ", ")
	if n := len(quoted); n > 1 {
		expected = strings.Join(quoted[:n-1], ", ") + " or " + quoted[n-1]
	}
	return []FieldError{{Type: "enum", Loc: []any{"body"}, Msg: "Input should be " + expected, Input: e.Value, Ctx: map[string]any{"expected": expected}}}
}
