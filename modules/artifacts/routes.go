package artifacts

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

const notFound = "Artifact not found."

// idPath is Starlette's uuid path converter: any other {id} matches no
// route, so it answers the router's own 404 (or 405), as in Prefect.
const idPath = "/artifacts/{id:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}}"

// sorts are Prefect's ArtifactSort (and ArtifactCollectionSort) values with
// their SQL on a table; the id breaks ties so that pages never overlap.
var sortNames = []string{"CREATED_DESC", "UPDATED_DESC", "ID_DESC", "KEY_DESC", "KEY_ASC"}

func sortSQL(table, sort string) string {
	switch sort {
	case "CREATED_DESC":
		return table + ".created DESC, " + table + ".id DESC"
	case "UPDATED_DESC":
		return table + ".updated DESC, " + table + ".id DESC"
	case "KEY_DESC":
		return table + ".key DESC, " + table + ".id DESC"
	case "KEY_ASC":
		return table + ".key ASC, " + table + ".id DESC"
	}
	return table + ".id DESC"
}

type handlers struct {
	repo *repo
	cfg  config.API
}

func newRoutes(r *repo, cfg config.API) api.Routes {
	h := &handlers{repo: r, cfg: cfg}
	return api.Routes{Module: "artifacts", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/artifacts", Handler: h.create},
		{Method: http.MethodPost, Path: "/artifacts/filter", Handler: h.filter},
		{Method: http.MethodPost, Path: "/artifacts/count", Handler: h.count},
		{Method: http.MethodPost, Path: "/artifacts/latest/filter", Handler: h.filterLatest},
		{Method: http.MethodPost, Path: "/artifacts/latest/count", Handler: h.countLatest},
		{Method: http.MethodGet, Path: "/artifacts/{key}/latest", Handler: h.readLatest},
		{Method: http.MethodGet, Path: idPath, Handler: h.read},
		{Method: http.MethodPatch, Path: idPath, Handler: h.update},
		{Method: http.MethodDelete, Path: idPath, Handler: h.delete},
	}}
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var body artifactCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	now := types.Now()
	a := &Artifact{ID: uuid.New(), Created: now, Updated: now, Key: body.Key, Type: body.Type, Description: body.Description,
		Data: body.Data, Metadata: body.Metadata, FlowRunID: body.FlowRunID, TaskRunID: body.TaskRunID}
	if err := h.repo.create(r.Context(), a); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, a)
}

func (h *handlers) read(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	a, err := h.repo.byID(r.Context(), id)
	if err != nil {
		return notFoundOr(err)
	}
	return api.WriteJSON(w, http.StatusOK, a)
}

func (h *handlers) readLatest(w http.ResponseWriter, r *http.Request) error {
	c, err := h.repo.latest(r.Context(), api.PathVar(r, "key"))
	if err != nil {
		return notFoundOr(err)
	}
	return api.WriteJSON(w, http.StatusOK, c.asArtifact())
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	var body artifactUpdate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	ok, err := h.repo.update(r.Context(), id, &body)
	if err != nil {
		return err
	}
	if !ok {
		return api.NotFound(notFound)
	}
	return api.NoContent(w)
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	ok, err := h.repo.delete(r.Context(), id)
	if err != nil {
		return err
	}
	if !ok {
		return api.NotFound(notFound)
	}
	return api.NoContent(w)
}

// listBody is the body of the filter and count endpoints; latest selects
// the collection endpoints, whose own filter is ArtifactCollectionFilter.
type listBody struct {
	api.Page
	Sort  *api.Enum
	Query query
}

func decodeList(r *http.Request, latest bool) (*listBody, error) {
	b := &listBody{Sort: api.NewEnum("ID_DESC", sortNames...)}
	params := b.Page.Params()
	params["sort"] = b.Sort
	params["flow_runs"] = &b.Query.FlowRuns
	params["task_runs"] = &b.Query.TaskRuns
	params["flows"] = &b.Query.Flows
	params["deployments"] = &b.Query.Deployments
	var (
		own  *ownFilter
		coll *collectionFilter
	)
	if latest {
		params["artifacts"] = &coll
	} else {
		params["artifacts"] = &own
	}
	if err := api.DecodeParams(r, params); err != nil {
		return nil, err
	}
	if latest {
		b.Query.Own = coll.common()
	} else {
		b.Query.Own = own.common()
	}
	return b, nil
}

func (h *handlers) filter(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeList(r, false)
	if err != nil {
		return err
	}
	limit, err := b.Page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	out, err := h.repo.list(r.Context(), b.Query, sortSQL("artifact", b.Sort.Value), limit, b.Offset)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) filterLatest(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeList(r, true)
	if err != nil {
		return err
	}
	limit, err := b.Page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	out, err := h.repo.listLatest(r.Context(), b.Query, sortSQL("artifact_collection", b.Sort.Value), limit, b.Offset)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *handlers) count(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeList(r, false)
	if err != nil {
		return err
	}
	n, err := h.repo.count(r.Context(), (*Artifact)(nil), "artifact", b.Query)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, n)
}

func (h *handlers) countLatest(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeList(r, true)
	if err != nil {
		return err
	}
	n, err := h.repo.count(r.Context(), (*Collection)(nil), "artifact_collection", b.Query)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, n)
}

// notFoundOr maps a missing row to Prefect's 404 for artifacts.
func notFoundOr(err error) error {
	if isNotFound(err) {
		return api.NotFound(notFound).Wrap(err)
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, db.ErrNotFound) }
