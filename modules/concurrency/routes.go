package concurrency

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

const (
	notFound = "Concurrency Limit not found"
	// conflict is Prefect's detail for an integrity error (a duplicate name).
	conflict = "Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details."
	// uuidPattern is Starlette's uuid path converter: other ids are no route.
	uuidPattern = "{id:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}}"
)

type handlers struct {
	repo  *repo
	slots *slots
	cfg   config.API
}

func newRoutes(r *repo, s *slots, cfg config.API) api.Routes {
	h := &handlers{repo: r, slots: s, cfg: cfg}
	const v2 = "/v2/concurrency_limits"
	const v1 = "/concurrency_limits"
	return api.Routes{Module: "concurrency", Routes: []api.Route{
		{Method: http.MethodPost, Path: v2, Handler: h.create},
		{Method: http.MethodPost, Path: v2 + "/filter", Handler: h.filter},
		{Method: http.MethodPost, Path: v2 + "/increment", Handler: h.increment},
		{Method: http.MethodPost, Path: v2 + "/increment-with-lease", Handler: h.incrementWithLease},
		{Method: http.MethodPost, Path: v2 + "/decrement", Handler: h.decrement},
		{Method: http.MethodPost, Path: v2 + "/decrement-with-lease", Handler: h.decrementWithLease},
		{Method: http.MethodPost, Path: v2 + "/leases/{lease_id}/renew", Handler: h.renew},
		{Method: http.MethodGet, Path: v2 + "/{id_or_name}", Handler: h.read},
		{Method: http.MethodPatch, Path: v2 + "/{id_or_name}", Handler: h.update},
		{Method: http.MethodDelete, Path: v2 + "/{id_or_name}", Handler: h.delete},

		{Method: http.MethodPost, Path: v1, Handler: h.createTag},
		{Method: http.MethodPost, Path: v1 + "/filter", Handler: h.filterTags},
		{Method: http.MethodPost, Path: v1 + "/increment", Handler: h.incrementTags},
		{Method: http.MethodPost, Path: v1 + "/decrement", Handler: h.decrementTags},
		{Method: http.MethodGet, Path: v1 + "/tag/{tag}", Handler: h.readTag},
		{Method: http.MethodDelete, Path: v1 + "/tag/{tag}", Handler: h.deleteTag},
		{Method: http.MethodPost, Path: v1 + "/tag/{tag}/reset", Handler: h.resetTag},
		{Method: http.MethodGet, Path: v1 + "/" + uuidPattern, Handler: h.readTagByID},
		{Method: http.MethodDelete, Path: v1 + "/" + uuidPattern, Handler: h.deleteTagByID},
	}}
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var body limitCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	now := types.Now()
	l := &Limit{ID: uuid.New(), Created: now, Updated: now, Active: true, Name: *body.Name, Limit: *body.Limit,
		AvgSlotOccupancySeconds: 2.0}
	if body.Active != nil {
		l.Active = *body.Active
	}
	if body.ActiveSlots != nil {
		l.ActiveSlots = *body.ActiveSlots
	}
	if body.DeniedSlots != nil {
		l.DeniedSlots = *body.DeniedSlots
	}
	if body.SlotDecayPerSecond != nil {
		l.SlotDecayPerSecond = pyFloat(*body.SlotDecayPerSecond)
	}
	if err := h.repo.create(r.Context(), l); err != nil {
		return conflictOr(err)
	}
	return api.WriteJSON(w, http.StatusCreated, l)
}

func (h *handlers) read(w http.ResponseWriter, r *http.Request) error {
	l, err := h.repo.read(r.Context(), idOrName(api.PathVar(r, "id_or_name")))
	if err != nil {
		return notFoundOr(err, notFound)
	}
	return api.WriteJSON(w, http.StatusOK, l.response())
}

func (h *handlers) filter(w http.ResponseWriter, r *http.Request) error {
	var page api.Page
	if err := api.DecodeParams(r, page.Params()); err != nil {
		return err
	}
	limit, err := page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	ls, err := h.repo.list(r.Context(), limit, page.Offset)
	if err != nil {
		return err
	}
	out := make([]limitResponse, len(ls))
	for i := range ls {
		out[i] = ls[i].response()
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) error {
	var body limitUpdate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	k := idOrName(api.PathVar(r, "id_or_name"))
	if body.hasNull() {
		// Prefect writes the NULL and fails on the NOT NULL column (or finds
		// no limit first).
		if _, err := h.repo.read(r.Context(), k); err != nil {
			return notFoundOr(err, notFound)
		}
		return api.Conflict(conflict)
	}
	ok, err := h.repo.update(r.Context(), k, &body)
	if err != nil {
		return conflictOr(err)
	}
	if !ok {
		return api.NotFound(notFound)
	}
	return api.NoContent(w)
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) error {
	ok, err := h.repo.delete(r.Context(), idOrName(api.PathVar(r, "id_or_name")))
	if err != nil {
		return err
	}
	if !ok {
		return api.NotFound(notFound)
	}
	return api.NoContent(w)
}

// notFoundOr maps a missing row to a 404 with detail.
func notFoundOr(err error, detail string) error {
	if errors.Is(err, db.ErrNotFound) {
		return api.NotFound(detail).Wrap(err)
	}
	return err
}

// conflictOr maps a duplicate name to Prefect's 409.
func conflictOr(err error) error {
	if errors.Is(err, db.ErrAlreadyExists) {
		return api.Conflict(conflict).Wrap(err)
	}
	return err
}
