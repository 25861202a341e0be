package automations

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
)

const notFound = "Automation not found"

// sorts are Prefect's AutomationSort values, in its order, with their SQL;
// the id breaks ties so that pages never overlap.
var (
	sortNames = []string{"CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"}
	sortSQL   = map[string]string{
		"CREATED_DESC": "automation.created DESC, automation.id",
		"UPDATED_DESC": "automation.updated DESC, automation.id",
		"NAME_ASC":     "automation.name ASC, automation.id",
		"NAME_DESC":    "automation.name DESC, automation.id",
	}
)

type handlers struct {
	repo   *repo
	events *lifecycle
	lister *api.Lister[Automation]
}

func newRoutes(r *repo, l *lifecycle, cfg config.API) api.Routes {
	h := &handlers{repo: r, events: l}
	h.lister = &api.Lister[Automation]{
		DefaultLimit: cfg.DefaultLimit,
		Sorts:        sortNames,
		DefaultSort:  "NAME_ASC",
		Keys:         []string{"automations"},
		List: func(ctx context.Context, f api.Filters, sort string, limit, offset int) ([]Automation, error) {
			return r.list(ctx, f["automations"], sortSQL[sort], limit, offset)
		},
		Count: func(ctx context.Context, f api.Filters) (int, error) { return r.count(ctx, f["automations"]) },
	}
	return api.Routes{Module: "automations", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/automations", Handler: h.create},
		{Method: http.MethodPost, Path: "/automations/filter", Handler: h.lister.Filter},
		{Method: http.MethodPost, Path: "/automations/count", Handler: h.lister.CountHandler},
		{Method: http.MethodGet, Path: "/automations/related-to/{resource_id}", Handler: h.relatedTo},
		{Method: http.MethodDelete, Path: "/automations/owned-by/{resource_id}", Handler: h.deleteOwnedBy},
		{Method: http.MethodGet, Path: "/automations/{id}", Handler: h.read},
		{Method: http.MethodPut, Path: "/automations/{id}", Handler: h.update},
		{Method: http.MethodPatch, Path: "/automations/{id}", Handler: h.patch},
		{Method: http.MethodDelete, Path: "/automations/{id}", Handler: h.delete},
		{Method: http.MethodPost, Path: "/automations/templates/validate", Handler: validateTemplateRoute},
		{Method: http.MethodPost, Path: "/templates/validate", Handler: validateTemplateRoute},
	}}
}

// pathID reads {id}; Prefect's path converter is a UUID, so a malformed id
// matches no route: the router's plain 404.
func pathID(r *http.Request) (uuid.UUID, error) { return api.PathUUID(r, "id", "Not Found") }

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r, automationModel(true))
	if err != nil {
		return err
	}
	resetIDs(body.get("trigger"))
	a := fromBody(uuid.New(), body)
	owner, _ := body.get("owner_resource").(string)
	if err := h.repo.create(r.Context(), a, selectedDeployments(body.get("actions")), owner); err != nil {
		return err
	}
	h.events.emit(r.Context(), "created", *a)
	return api.WriteJSON(w, http.StatusCreated, a)
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := decodeBody(r, automationModel(false))
	if err != nil {
		return err
	}
	resetIDs(body.get("trigger"))
	ok, err := h.repo.update(r.Context(), fromBody(id, body), selectedDeployments(body.get("actions")))
	if err != nil {
		return err
	}
	if !ok {
		return automationNotFound(w)
	}
	h.emitUpdated(r, id)
	return api.NoContent(w)
}

// patchModel is Prefect's AutomationPartialUpdate.
func patchModel() model {
	return model{fields: []field{{name: "enabled", def: constant(true), check: boolean}}, forbidExtra: true}
}

func (h *handlers) patch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := decodeBody(r, patchModel())
	if err != nil {
		return err
	}
	ok, err := h.repo.setEnabled(r.Context(), id, body.get("enabled").(bool))
	if err != nil {
		return err
	}
	if !ok {
		return automationNotFound(w)
	}
	h.emitUpdated(r, id)
	return api.NoContent(w)
}

func (h *handlers) emitUpdated(r *http.Request, id uuid.UUID) {
	if a, err := h.repo.read(r.Context(), id); err == nil {
		h.events.emit(r.Context(), "updated", *a)
	}
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	gone, err := h.repo.delete(r.Context(), []uuid.UUID{id})
	if err != nil {
		return err
	}
	if len(gone) == 0 {
		return automationNotFound(w)
	}
	h.events.emit(r.Context(), "deleted", gone...)
	return api.NoContent(w)
}

func (h *handlers) read(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := h.repo.read(r.Context(), id)
	if errors.Is(err, db.ErrNotFound) {
		return automationNotFound(w)
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, a)
}

// automationNotFound is Prefect's ObjectNotFoundError answer, whose body has
// exception_message rather than detail.
func automationNotFound(w http.ResponseWriter) error {
	return api.WriteJSON(w, http.StatusNotFound, map[string]string{"exception_message": notFound})
}

func (h *handlers) relatedTo(w http.ResponseWriter, r *http.Request) error {
	as, err := h.repo.relatedTo(r.Context(), api.PathVar(r, "resource_id"), false, nil)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, as)
}

// deleteOwnedBy deletes the automations a resource owns that exist now
// (202, null body), as Prefect does when a deployment's triggers are replaced.
func (h *handlers) deleteOwnedBy(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	owned, err := h.repo.relatedTo(r.Context(), api.PathVar(r, "resource_id"), true, &now)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(owned))
	for i, a := range owned {
		ids[i] = a.ID
	}
	if _, err := h.repo.delete(r.Context(), ids); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusAccepted, nil)
}
