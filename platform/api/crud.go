package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/db"
)

// The handlers below are the shapes most Prefect endpoints share, so that a
// module writes its storage calls and not the same handler again.

// ReadByID serves GET /<things>/{id}: 200 with the object, or 404 with
// notFound (e.g. "Flow not found") for a missing or malformed id.
func ReadByID[T any](notFound string, read func(ctx context.Context, id uuid.UUID) (T, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := PathUUID(r, "id", notFound)
		if err != nil {
			return err
		}
		v, err := read(r.Context(), id)
		if errors.Is(err, db.ErrNotFound) {
			return NotFound(notFound).Wrap(err)
		}
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, v)
	}
}

// DeleteByID serves DELETE /<things>/{id}: 204, or 404 when del finds nothing.
func DeleteByID(notFound string, del func(ctx context.Context, id uuid.UUID) (bool, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := PathUUID(r, "id", notFound)
		if err != nil {
			return err
		}
		return noContentOr404(w, notFound)(del(r.Context(), id))
	}
}

// PatchByID serves PATCH /<things>/{id}: decodes B strictly, 204, or 404
// when update finds nothing.
func PatchByID[B any](notFound string, update func(ctx context.Context, id uuid.UUID, body B) (bool, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := PathUUID(r, "id", notFound)
		if err != nil {
			return err
		}
		var body B
		if err := Decode(r, &body); err != nil {
			return err
		}
		return noContentOr404(w, notFound)(update(r.Context(), id, body))
	}
}

func noContentOr404(w http.ResponseWriter, notFound string) func(bool, error) error {
	return func(ok bool, err error) error {
		if err != nil {
			return err
		}
		if !ok {
			return NotFound(notFound)
		}
		return NoContent(w)
	}
}

// Filters are the filter objects of a list request by body key ("flows",
// "flow_runs", ...), still undecoded: each is decoded by the module that owns
// it, through the filter registry.
type Filters = map[string]json.RawMessage

// Lister serves Prefect's POST /<things>/filter, /count and /paginate for one
// kind of object.
type Lister[T any] struct {
	DefaultLimit int
	// Sorts are Prefect's sort values in its order; DefaultSort is used when
	// the body has none.
	Sorts       []string
	DefaultSort string
	// Keys are the filter objects the body may carry.
	Keys []string
	// List reads one page, sorted by the sort value; Count counts all matches.
	List  func(ctx context.Context, f Filters, sort string, limit, offset int) ([]T, error)
	Count func(ctx context.Context, f Filters) (int, error)
}

type listRequest struct {
	Page
	page    int
	sort    *Enum
	filters Filters
}

func (l *Lister[T]) decode(r *http.Request) (*listRequest, error) {
	req := &listRequest{sort: NewEnum(l.DefaultSort, l.Sorts...), filters: Filters{}}
	params := req.Page.Params()
	params["page"] = &req.page
	params["sort"] = req.sort
	raws := make([]json.RawMessage, len(l.Keys))
	for i, k := range l.Keys {
		params[k] = &raws[i]
	}
	if err := DecodeParams(r, params); err != nil {
		return nil, err
	}
	for i, k := range l.Keys {
		req.filters[k] = raws[i]
	}
	return req, nil
}

// Filter serves POST /<things>/filter.
func (l *Lister[T]) Filter(w http.ResponseWriter, r *http.Request) error {
	req, err := l.decode(r)
	if err != nil {
		return err
	}
	limit, err := req.Page.Resolve(l.DefaultLimit)
	if err != nil {
		return err
	}
	items, err := l.List(r.Context(), req.filters, req.sort.Value, limit, req.Offset)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, items)
}

// CountHandler serves POST /<things>/count.
func (l *Lister[T]) CountHandler(w http.ResponseWriter, r *http.Request) error {
	req, err := l.decode(r)
	if err != nil {
		return err
	}
	n, err := l.Count(r.Context(), req.filters)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, n)
}

// Paginate serves POST /<things>/paginate.
func (l *Lister[T]) Paginate(w http.ResponseWriter, r *http.Request) error {
	req, err := l.decode(r)
	if err != nil {
		return err
	}
	pn := PageNumber{Limit: req.Limit, Page: req.page}
	limit, offset, err := pn.Resolve(l.DefaultLimit)
	if err != nil {
		return err
	}
	items, err := l.List(r.Context(), req.filters, req.sort.Value, limit, offset)
	if err != nil {
		return err
	}
	n, err := l.Count(r.Context(), req.filters)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, NewPaginated(items, n, limit, pn.Page))
}
