package workpools

import (
	"errors"
	"net/http"
	"strings"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
)

// reserved reports Prefect's reserved pool names: starting with "prefect",
// in any case.
func reserved(name string) bool { return strings.HasPrefix(strings.ToLower(name), "prefect") }

// poolNotFound is Prefect's 404 for a pool named in a path or body.
func poolNotFound(name string) *api.Error {
	return api.NotFound(`Work pool "` + name + `" not found.`)
}

// orPoolNotFound turns a missing pool into Prefect's 404.
func orPoolNotFound(err error, name string) error {
	if errors.Is(err, db.ErrNotFound) || errors.Is(err, ErrPoolNotFound) {
		return poolNotFound(name).Wrap(err)
	}
	return err
}

type poolHandlers struct {
	repo *poolRepo
	cfg  config.API
}

func newPoolHandlers(r *poolRepo, cfg config.API) *poolHandlers {
	return &poolHandlers{repo: r, cfg: cfg}
}

// decodeFilter reads a list body: the filter under key, plus limit and
// offset when page is not nil (Prefect's work pool lists have no sort).
func decodeFilter(r *http.Request, key string, page *api.Page) (api.Filters, error) {
	var raw []byte
	params := api.Params{key: (*rawJSON)(&raw)}
	if page != nil {
		for k, v := range page.Params() {
			params[k] = v
		}
	}
	if err := api.DecodeParams(r, params); err != nil {
		return nil, err
	}
	return api.Filters{key: raw}, nil
}

func (h *poolHandlers) filter(w http.ResponseWriter, r *http.Request) error {
	var page api.Page
	f, err := decodeFilter(r, keyPools, &page)
	if err != nil {
		return err
	}
	limit, err := page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	out, err := h.repo.listPools(r.Context(), f, limit, page.Offset)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *poolHandlers) count(w http.ResponseWriter, r *http.Request) error {
	f, err := decodeFilter(r, keyPools, nil)
	if err != nil {
		return err
	}
	n, err := h.repo.countPools(r.Context(), f)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, n)
}

func (h *poolHandlers) create(w http.ResponseWriter, r *http.Request) error {
	var body poolCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	if reserved(body.spec.Name) {
		return api.Forbidden("Work pools starting with 'Prefect' are reserved for internal use.")
	}
	if err := checkTemplateDefaults(body.spec.BaseJobTemplate); err != nil {
		return err
	}
	p, err := h.repo.createPool(r.Context(), body.spec)
	if errors.Is(err, db.ErrAlreadyExists) {
		return api.Conflict("A work pool with this name already exists.").Wrap(err)
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, p)
}

func (h *poolHandlers) read(w http.ResponseWriter, r *http.Request) error {
	name := api.PathVar(r, "name")
	p, err := h.repo.readPool(r.Context(), name)
	if err != nil {
		return orPoolNotFound(err, name)
	}
	return api.WriteJSON(w, http.StatusOK, p)
}

func (h *poolHandlers) update(w http.ResponseWriter, r *http.Request) error {
	name := api.PathVar(r, "name")
	var body poolUpdate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	if reserved(name) {
		for k := range body.sent {
			if k != "is_paused" && k != "concurrency_limit" {
				return api.Forbidden("Work pools starting with 'Prefect' are reserved for internal use and can only be updated to set concurrency limits or pause.")
			}
		}
	}
	if err := h.repo.updatePool(r.Context(), name, &body); err != nil {
		return orPoolNotFound(err, name)
	}
	return api.NoContent(w)
}

func (h *poolHandlers) delete(w http.ResponseWriter, r *http.Request) error {
	name := api.PathVar(r, "name")
	if reserved(name) {
		return api.Forbidden("Work pools starting with 'Prefect' are reserved for internal use and can not be deleted.")
	}
	if err := h.repo.deletePool(r.Context(), name); err != nil {
		return orPoolNotFound(err, name)
	}
	return api.NoContent(w)
}
