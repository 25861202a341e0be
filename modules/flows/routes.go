package flows

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/types"
)

const notFound = "Flow not found"

// sorts are Prefect's FlowSort values, in its order, with their SQL; the id
// breaks ties so that pages never overlap.
var (
	sortNames = []string{"CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"}
	sortSQL   = map[string]string{
		"CREATED_DESC": "flow.created DESC, flow.id",
		"UPDATED_DESC": "flow.updated DESC, flow.id",
		"NAME_ASC":     "flow.name ASC, flow.id",
		"NAME_DESC":    "flow.name DESC, flow.id",
	}
)

// bulkDeleteLimit is Prefect's BULK_OPERATION_LIMIT.
const bulkDeleteLimit = 50

type handlers struct {
	repo *repo
	cfg  config.API
}

func newRoutes(r *repo, cfg config.API) api.Routes {
	h := &handlers{repo: r, cfg: cfg}
	return api.Routes{Module: "flows", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/flows", Handler: h.create},
		{Method: http.MethodPost, Path: "/flows/filter", Handler: h.filter},
		{Method: http.MethodPost, Path: "/flows/count", Handler: h.count},
		{Method: http.MethodPost, Path: "/flows/paginate", Handler: h.paginate},
		{Method: http.MethodPost, Path: "/flows/bulk_delete", Handler: h.bulkDelete},
		{Method: http.MethodGet, Path: "/flows/name/{name}", Handler: h.readByName},
		{Method: http.MethodGet, Path: "/flows/{id}", Handler: h.read},
		{Method: http.MethodPatch, Path: "/flows/{id}", Handler: h.update},
		{Method: http.MethodDelete, Path: "/flows/{id}", Handler: h.delete},
	}}
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var body flowCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	now := types.Now()
	f := &Flow{ID: uuid.New(), Created: now, Updated: now, Name: *body.Name, Tags: body.Tags, Labels: body.Labels}
	if f.Tags == nil {
		f.Tags = []string{}
	}
	if f.Labels == nil {
		f.Labels = map[string]any{}
	}
	stored, inserted, err := h.repo.create(r.Context(), f)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if inserted {
		status = http.StatusCreated
	}
	return api.WriteJSON(w, status, stored)
}

func (h *handlers) read(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", notFound)
	if err != nil {
		return err
	}
	f, err := h.repo.byID(r.Context(), id)
	if err != nil {
		return notFoundOr(err)
	}
	return api.WriteJSON(w, http.StatusOK, f)
}

func (h *handlers) readByName(w http.ResponseWriter, r *http.Request) error {
	f, err := h.repo.byName(r.Context(), api.PathVar(r, "name"))
	if err != nil {
		return notFoundOr(err)
	}
	return api.WriteJSON(w, http.StatusOK, f)
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", notFound)
	if err != nil {
		return err
	}
	var body flowUpdate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	ok, err := h.repo.update(r.Context(), id, body)
	if err != nil {
		return err
	}
	if !ok {
		return api.NotFound(notFound)
	}
	return api.NoContent(w)
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", notFound)
	if err != nil {
		return err
	}
	deleted, err := h.repo.deleteByIDs(r.Context(), []uuid.UUID{id})
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		return api.NotFound(notFound)
	}
	return api.NoContent(w)
}

// listBody is the body of the filter, count and paginate endpoints.
type listBody struct {
	api.Page
	PageNumber int
	Sort       *api.Enum
	Query      query
}

// decodeList reads the shared body of the list endpoints.
func decodeList(r *http.Request) (*listBody, error) {
	b := &listBody{Sort: api.NewEnum("NAME_ASC", sortNames...), Query: query{Related: map[string]json.RawMessage{}}}
	params := b.Page.Params()
	params["page"] = &b.PageNumber
	params["sort"] = b.Sort
	params["flows"] = &b.Query.Flows
	related := make([]json.RawMessage, len(relatedKeys))
	for i, key := range relatedKeys {
		params[key] = &related[i]
	}
	if err := api.DecodeParams(r, params); err != nil {
		return nil, err
	}
	for i, key := range relatedKeys {
		b.Query.Related[key] = related[i]
	}
	return b, nil
}

func (h *handlers) filter(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeList(r)
	if err != nil {
		return err
	}
	limit, err := b.Page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	flows, err := h.repo.list(r.Context(), b.Query, sortSQL[b.Sort.Value], limit, b.Offset)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, flows)
}

func (h *handlers) count(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeList(r)
	if err != nil {
		return err
	}
	n, err := h.repo.count(r.Context(), b.Query)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, n)
}

func (h *handlers) paginate(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeList(r)
	if err != nil {
		return err
	}
	pn := api.PageNumber{Limit: b.Limit, Page: b.PageNumber}
	limit, offset, err := pn.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	flows, err := h.repo.list(r.Context(), b.Query, sortSQL[b.Sort.Value], limit, offset)
	if err != nil {
		return err
	}
	n, err := h.repo.count(r.Context(), b.Query)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, api.NewPaginated(flows, n, limit, pn.Page))
}

func (h *handlers) bulkDelete(w http.ResponseWriter, r *http.Request) error {
	var fq query
	limit := bulkDeleteLimit
	if err := api.DecodeParams(r, api.Params{"flows": &fq.Flows, "limit": &limit}); err != nil {
		return err
	}
	if limit < 1 || limit > bulkDeleteLimit {
		return api.Invalid("less_than_equal", "Input should be between 1 and 50", limit, "limit")
	}
	matched, err := h.repo.list(r.Context(), fq, sortSQL["NAME_ASC"], limit, 0)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(matched))
	for i, f := range matched {
		ids[i] = f.ID
	}
	deleted, err := h.repo.deleteByIDs(r.Context(), ids)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, map[string]any{"deleted": deleted})
}

// notFoundOr maps a missing row to Prefect's 404 for flows.
func notFoundOr(err error) error {
	if isNotFound(err) {
		return api.NotFound(notFound).Wrap(err)
	}
	return err
}
