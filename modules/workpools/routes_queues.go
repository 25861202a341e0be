package workpools

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
)

// Prefect's answers for queues; the pool-scoped conflict detail is Prefect's
// literal text (its braces are not a format string there).
const (
	legacyQueueNotFound = "work queue not found"
	poolQueueConflict   = "A work queue with this name already exists in work pool {work_pool_name!r}."
	legacyQueueConflict = "A work queue with this name already exists."
)

func poolQueueNotFound(pool, queue string) *api.Error {
	return api.NotFound("Work pool queue '" + pool + "/" + queue + "' not found.")
}

// exceptionNotFound is the 404 Prefect's ObjectNotFoundError handler writes.
func exceptionNotFound(w http.ResponseWriter, msg string) error {
	return api.WriteJSON(w, http.StatusNotFound, map[string]string{"exception_message": msg})
}

type queueHandlers struct {
	repo *queueRepo
	cfg  config.API
}

// list decodes a queue list body (work_queues, limit, offset) and lists
// the queues of one pool, or all (legacy route) when poolID is nil.
func (h *queueHandlers) list(r *http.Request, poolID *uuid.UUID) ([]queueResponse, error) {
	var page api.Page
	f, err := decodeFilter(r, keyQueues, &page)
	if err != nil {
		return nil, err
	}
	limit, err := page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return nil, err
	}
	return h.repo.listQueues(r.Context(), poolID, f, limit, page.Offset)
}

// --- pool-scoped: /work_pools/{work_pool_name}/queues ---

func (h *queueHandlers) poolCreate(w http.ResponseWriter, r *http.Request) error {
	pool := api.PathVar(r, "work_pool_name")
	var body queueCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	q, err := h.repo.createQueue(r.Context(), pool, body.spec)
	if errors.Is(err, db.ErrAlreadyExists) {
		return api.Conflict(poolQueueConflict).Wrap(err)
	}
	if err != nil {
		return orPoolNotFound(err, pool)
	}
	return h.writeQueue(w, r.Context(), http.StatusCreated, q)
}

func (h *queueHandlers) writeQueue(w http.ResponseWriter, ctx context.Context, status int, q *WorkQueue) error {
	out, err := h.repo.queueResponse(ctx, q)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, status, out)
}

// poolQueue reads the queue a pool-scoped path names; checkPool first
// answers a missing pool as such (update and delete do, read does not).
func (h *queueHandlers) poolQueue(r *http.Request, checkPool bool) (*WorkQueue, error) {
	pool, name := api.PathVar(r, "work_pool_name"), api.PathVar(r, "name")
	if checkPool {
		if _, err := h.repo.poolByName(r.Context(), h.repo.db.Read, pool); err != nil {
			return nil, orPoolNotFound(err, pool)
		}
	}
	q, err := h.repo.queueByName(r.Context(), h.repo.db.Read, pool, name)
	if errors.Is(err, db.ErrNotFound) {
		return nil, poolQueueNotFound(pool, name).Wrap(err)
	}
	return q, err
}

func (h *queueHandlers) poolRead(w http.ResponseWriter, r *http.Request) error {
	q, err := h.poolQueue(r, false)
	if err != nil {
		return err
	}
	return h.writeQueue(w, r.Context(), http.StatusOK, q)
}

func (h *queueHandlers) poolFilter(w http.ResponseWriter, r *http.Request) error {
	pool := api.PathVar(r, "work_pool_name")
	p, err := h.repo.poolByName(r.Context(), h.repo.db.Read, pool)
	if err != nil {
		return orPoolNotFound(err, pool)
	}
	out, err := h.list(r, &p.ID)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *queueHandlers) poolUpdate(w http.ResponseWriter, r *http.Request) error {
	var body queueUpdate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	q, err := h.poolQueue(r, true)
	if err != nil {
		return err
	}
	if body.nullRequired() {
		return api.Conflict(api.IntegrityConflict)
	}
	if err := h.repo.updateQueue(r.Context(), q.ID, &body, true); err != nil {
		return queueWriteError(err)
	}
	return api.NoContent(w)
}

func (h *queueHandlers) poolDelete(w http.ResponseWriter, r *http.Request) error {
	q, err := h.poolQueue(r, true)
	if err != nil {
		return err
	}
	if err := h.repo.deleteQueue(r.Context(), q.ID, true); err != nil {
		if errors.Is(err, errDefaultQueue) {
			return api.BadRequest("Can't delete a pool's default queue.").Wrap(err)
		}
		return err
	}
	return api.NoContent(w)
}

// queueWriteError maps a rename onto a taken name, or a null in a required
// field, to Prefect's integrity conflict.
func queueWriteError(err error) error {
	if errors.Is(err, db.ErrAlreadyExists) {
		return api.Conflict(api.IntegrityConflict).Wrap(err)
	}
	return err
}

// --- legacy: /work_queues ---

func (h *queueHandlers) legacyCreate(w http.ResponseWriter, r *http.Request) error {
	var body queueCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	q, err := h.repo.createQueue(r.Context(), "", body.spec)
	if errors.Is(err, db.ErrAlreadyExists) {
		return api.Conflict(legacyQueueConflict).Wrap(err)
	}
	if err != nil {
		return err
	}
	return h.writeQueue(w, r.Context(), http.StatusCreated, q)
}

// legacyQueue reads {id}; a malformed id matches no route in Prefect.
func (h *queueHandlers) legacyQueue(r *http.Request) (*WorkQueue, error) {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return nil, err
	}
	return h.repo.queueByID(r.Context(), h.repo.db.Read, id)
}

func (h *queueHandlers) legacyRead(w http.ResponseWriter, r *http.Request) error {
	q, err := h.legacyQueue(r)
	if errors.Is(err, db.ErrNotFound) {
		return api.NotFound(legacyQueueNotFound).Wrap(err)
	}
	if err != nil {
		return err
	}
	return h.writeQueue(w, r.Context(), http.StatusOK, q)
}

// legacyReadByName reads a queue of default-agent-pool by name.
func (h *queueHandlers) legacyReadByName(w http.ResponseWriter, r *http.Request) error {
	q, err := h.repo.queueByName(r.Context(), h.repo.db.Read, DefaultAgentPoolName, api.PathVar(r, "name"))
	if errors.Is(err, db.ErrNotFound) {
		return api.NotFound(legacyQueueNotFound).Wrap(err)
	}
	if err != nil {
		return err
	}
	return h.writeQueue(w, r.Context(), http.StatusOK, q)
}

func (h *queueHandlers) legacyFilter(w http.ResponseWriter, r *http.Request) error {
	out, err := h.list(r, nil)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

func (h *queueHandlers) legacyUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	var body queueUpdate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	if body.nullRequired() {
		// Prefect writes the null and the NOT NULL constraint refuses it.
		if _, err := h.repo.queueByID(r.Context(), h.repo.db.Read, id); err == nil {
			return api.Conflict(api.IntegrityConflict)
		}
	}
	err = h.repo.updateQueue(r.Context(), id, &body, false)
	if errors.Is(err, db.ErrNotFound) {
		return api.NotFound("Work Queue " + id.String() + " not found").Wrap(err)
	}
	if err != nil {
		return queueWriteError(err)
	}
	return api.NoContent(w)
}

func (h *queueHandlers) legacyDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	err = h.repo.deleteQueue(r.Context(), id, false)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return api.NotFound(legacyQueueNotFound).Wrap(err)
	case errors.Is(err, errDefaultQueue):
		return api.Conflict(api.IntegrityConflict).Wrap(err)
	case err != nil:
		return err
	}
	return api.NoContent(w)
}

// rawJSON captures one body parameter undecoded.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error { *r = append((*r)[:0], b...); return nil }
