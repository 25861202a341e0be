package flows

import (
	"context"
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

type handlers struct {
	repo *repo
	list *api.Lister[Flow]
}

func newRoutes(r *repo, cfg config.API) api.Routes {
	h := &handlers{repo: r, list: &api.Lister[Flow]{
		DefaultLimit: cfg.DefaultLimit, Sorts: sortNames, DefaultSort: "NAME_ASC",
		Keys: append([]string{"flows"}, relatedKeys...), List: r.list, Count: r.count,
	}}
	return api.Routes{Module: "flows", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/flows", Handler: h.create},
		{Method: http.MethodPost, Path: "/flows/filter", Handler: h.list.Filter},
		{Method: http.MethodPost, Path: "/flows/count", Handler: h.list.CountHandler},
		{Method: http.MethodPost, Path: "/flows/paginate", Handler: h.list.Paginate},
		{Method: http.MethodPost, Path: "/flows/bulk_delete", Handler: api.BulkDelete("flows", h.matchIDs, h.repo.deleteByIDs)},
		{Method: http.MethodGet, Path: "/flows/name/{name}", Handler: h.readByName},
		{Method: http.MethodGet, Path: "/flows/{id}", Handler: api.ReadByID(notFound, r.byID)},
		{Method: http.MethodPatch, Path: "/flows/{id}", Handler: api.PatchByID(notFound, r.update)},
		{Method: http.MethodDelete, Path: "/flows/{id}", Handler: api.DeleteByID(notFound, r.delete)},
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

func (h *handlers) readByName(w http.ResponseWriter, r *http.Request) error {
	f, err := h.repo.byName(r.Context(), api.PathVar(r, "name"))
	if err != nil {
		return notFoundOr(err)
	}
	return api.WriteJSON(w, http.StatusOK, f)
}

// matchIDs lists the ids of the flows a bulk delete's filter selects.
func (h *handlers) matchIDs(ctx context.Context, f api.Filters, limit int) ([]uuid.UUID, error) {
	matched, err := h.repo.list(ctx, f, "NAME_ASC", limit, 0)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(matched))
	for i, fl := range matched {
		ids[i] = fl.ID
	}
	return ids, nil
}

// notFoundOr maps a missing row to Prefect's 404 for flows.
func notFoundOr(err error) error {
	if isNotFound(err) {
		return api.NotFound(notFound).Wrap(err)
	}
	return err
}
