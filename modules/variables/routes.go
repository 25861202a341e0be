package variables

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

const (
	notFound = "Variable not found."
	// integrityConflict is Prefect's answer to any other integrity error,
	// e.g. renaming a variable to a taken name or setting its tags to null.
	integrityConflict = "Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details."
)

// sorts are Prefect's VariableSort values, in its order, with their SQL; the
// id breaks ties so that pages never overlap.
var (
	sortNames = []string{"CREATED_DESC", "UPDATED_DESC", "NAME_DESC", "NAME_ASC"}
	sortSQL   = map[string]string{
		"CREATED_DESC": "variable.created DESC, variable.id",
		"UPDATED_DESC": "variable.updated DESC, variable.id",
		"NAME_DESC":    "variable.name DESC, variable.id",
		"NAME_ASC":     "variable.name ASC, variable.id",
	}
)

type handlers struct {
	repo *repo
	cfg  config.API
}

func newRoutes(r *repo, cfg config.API) api.Routes {
	h := &handlers{repo: r, cfg: cfg}
	return api.Routes{Module: "variables", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/variables", Handler: h.create},
		{Method: http.MethodPost, Path: "/variables/filter", Handler: h.filter},
		{Method: http.MethodPost, Path: "/variables/count", Handler: h.count},
		{Method: http.MethodGet, Path: "/variables/name/{name}", Handler: h.read(byName)},
		{Method: http.MethodPatch, Path: "/variables/name/{name}", Handler: h.update(byName)},
		{Method: http.MethodDelete, Path: "/variables/name/{name}", Handler: h.delete(byName)},
		{Method: http.MethodGet, Path: "/variables/{id}", Handler: h.read(byID)},
		{Method: http.MethodPatch, Path: "/variables/{id}", Handler: h.update(byID)},
		{Method: http.MethodDelete, Path: "/variables/{id}", Handler: h.delete(byID)},
	}}
}

// keyFunc reads which variable a request names from its path.
type keyFunc func(r *http.Request) (key, error)

// byID reads {id}. A malformed id matches no route in Prefect (its path
// converter is a UUID), hence the router's plain 404.
func byID(r *http.Request) (key, error) {
	id, err := api.PathUUID(r, "id", "Not Found")
	return key{column: "id", value: id}, err
}

func byName(r *http.Request) (key, error) {
	return key{column: "name", value: api.PathVar(r, "name")}, nil
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var body variableCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	now := types.Now()
	v := &Variable{ID: uuid.New(), Created: now, Updated: now, Name: body.name, Value: body.value, Tags: body.tags}
	if err := h.repo.create(r.Context(), v); err != nil {
		if errors.Is(err, db.ErrAlreadyExists) {
			return api.Conflict(fmt.Sprintf("A variable with the name %s already exists.", pyRepr(v.Name))).Wrap(err)
		}
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, v)
}

func (h *handlers) read(k keyFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := k(r)
		if err != nil {
			return err
		}
		v, err := h.repo.read(r.Context(), key)
		if errors.Is(err, db.ErrNotFound) {
			return api.NotFound(notFound).Wrap(err)
		}
		if err != nil {
			return err
		}
		return api.WriteJSON(w, http.StatusOK, v)
	}
}

func (h *handlers) update(k keyFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := k(r)
		if err != nil {
			return err
		}
		var body variableUpdate
		if err := api.Decode(r, &body); err != nil {
			return err
		}
		if body.nullField {
			// Prefect writes the null and the NOT NULL constraint refuses it;
			// a missing variable is still a 404.
			if _, err := h.repo.read(r.Context(), key); err != nil {
				if errors.Is(err, db.ErrNotFound) {
					return api.NotFound(notFound).Wrap(err)
				}
				return err
			}
			return api.Conflict(integrityConflict)
		}
		ok, err := h.repo.update(r.Context(), key, &body)
		if errors.Is(err, db.ErrAlreadyExists) {
			return api.Conflict(integrityConflict).Wrap(err)
		}
		if err != nil {
			return err
		}
		if !ok {
			return api.NotFound(notFound)
		}
		return api.NoContent(w)
	}
}

func (h *handlers) delete(k keyFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := k(r)
		if err != nil {
			return err
		}
		ok, err := h.repo.delete(r.Context(), key)
		if err != nil {
			return err
		}
		if !ok {
			return api.NotFound(notFound)
		}
		return api.NoContent(w)
	}
}

func (h *handlers) filter(w http.ResponseWriter, r *http.Request) error {
	var (
		page api.Page
		f    json.RawMessage
	)
	sort := api.NewEnum("NAME_ASC", sortNames...)
	params := page.Params()
	params["sort"] = sort
	params["variables"] = &f
	if err := api.DecodeParams(r, params); err != nil {
		return err
	}
	limit, err := page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	vars, err := h.repo.list(r.Context(), f, sortSQL[sort.Value], limit, page.Offset)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, vars)
}

func (h *handlers) count(w http.ResponseWriter, r *http.Request) error {
	var f json.RawMessage
	if err := api.DecodeParams(r, api.Params{"variables": &f}); err != nil {
		return err
	}
	n, err := h.repo.count(r.Context(), f)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, n)
}

// pyRepr quotes a string as Python's repr does for the characters a
// variable name can hold.
func pyRepr(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "'", `\'`)
	return "'" + r.Replace(s) + "'"
}
