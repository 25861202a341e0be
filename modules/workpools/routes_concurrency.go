package workpools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// queueSlotStates are the states the legacy queue scheduler counts against
// a queue (Prefect's WORK_QUEUE_SLOT_OCCUPYING_STATES).
var queueSlotStates = []string{"PENDING", "RUNNING", "CANCELLING"}

// slotHolder is Prefect's FlowRunSlotSummary.
type slotHolder struct {
	ID             uuid.UUID       `bun:"id,type:uuid" json:"id"`
	Name           string          `bun:"name" json:"name"`
	QueueID        *uuid.UUID      `bun:"work_queue_id,type:uuid" json:"-"`
	StateType      *string         `bun:"state_type" json:"state_type"`
	StateName      *string         `bun:"state_name" json:"state_name"`
	StartTime      *types.DateTime `bun:"start_time" json:"start_time"`
	StateTimestamp *types.DateTime `bun:"state_timestamp" json:"state_timestamp"`
	// TimeInCurrentState is in seconds, as pydantic writes a timedelta.
	TimeInCurrentState *float64 `bun:"-" json:"time_in_current_state"`
}

func readSlotHolders(ctx context.Context, q *bun.SelectQuery, into *[]slotHolder) error {
	if err := q.Column("fr.id", "fr.name", "fr.work_queue_id", "fr.state_type", "fr.state_name", "fr.start_time", "fr.state_timestamp").
		OrderExpr("fr.id").Scan(ctx, into); err != nil {
		return fmt.Errorf("read slot holders: %w", db.Translate(err))
	}
	now := time.Now()
	for i := range *into {
		if ts := (*into)[i].StateTimestamp; ts != nil {
			s := now.Sub(ts.Time).Seconds()
			(*into)[i].TimeInCurrentState = &s
		}
	}
	return nil
}

type queueConcurrency struct {
	QueueID          uuid.UUID    `json:"queue_id"`
	QueueName        string       `json:"queue_name"`
	ActiveSlots      int          `json:"active_slots"`
	ConcurrencyLimit *int         `json:"concurrency_limit"`
	FlowRuns         []slotHolder `json:"flow_runs"`
	FlowRunCount     int          `json:"flow_run_count"`
}

type poolConcurrency struct {
	ActiveSlots      int                `json:"active_slots"`
	ConcurrencyLimit *int               `json:"concurrency_limit"`
	Queues           []queueConcurrency `json:"queues"`
	Count            int                `json:"count"`
	Limit            int                `json:"limit"`
	Pages            int                `json:"pages"`
	Page             int                `json:"page"`
}

type queueConcurrencyStatus struct {
	ActiveSlots      int          `json:"active_slots"`
	ConcurrencyLimit *int         `json:"concurrency_limit"`
	FlowRuns         []slotHolder `json:"flow_runs"`
	Count            int          `json:"count"`
	Limit            int          `json:"limit"`
	Pages            int          `json:"pages"`
	Page             int          `json:"page"`
}

func pages(count, limit int) int {
	if limit <= 0 {
		return 0
	}
	return (count + limit - 1) / limit
}

// poolConcurrencyStatus serves POST /work_pools/{name}/concurrency_status:
// a page of the pool's queues (by priority) with the PENDING and RUNNING
// runs holding their slots, at most flow_run_limit runs per queue.
func (h *pollHandlers) poolConcurrencyStatus(w http.ResponseWriter, r *http.Request) error {
	name := api.PathVar(r, "name")
	pn := api.PageNumber{}
	flowRunLimit := 10
	params := pn.Params()
	params["flow_run_limit"] = &flowRunLimit
	if err := api.DecodeParams(r, params); err != nil {
		return err
	}
	if flowRunLimit < 0 || flowRunLimit > 200 {
		return api.Invalid("less_than_equal", "Input should be between 0 and 200", flowRunLimit, "flow_run_limit")
	}
	limit, offset, err := pn.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	ctx, store := r.Context(), h.sched.store
	pool, err := store.poolByName(ctx, store.db.Read, name)
	if errors.Is(err, db.ErrNotFound) {
		return api.NotFound("Work pool '" + name + "' not found.").Wrap(err)
	}
	if err != nil {
		return err
	}
	var queues []WorkQueue
	if limit > 0 {
		if err := store.db.Read.NewSelect().Model(&queues).Where("work_pool_id = ?", pool.ID).OrderExpr("priority ASC").
			Limit(int64(limit)).Offset(int64(offset)).Scan(ctx); err != nil {
			return fmt.Errorf("read queues of pool %q: %w", name, db.Translate(err))
		}
	}
	total, err := store.db.Read.NewSelect().Model((*WorkQueue)(nil)).Where("work_pool_id = ?", pool.ID).Count(ctx)
	if err != nil {
		return fmt.Errorf("count queues of pool %q: %w", name, db.Translate(err))
	}
	holders := []slotHolder{}
	holdersQ := store.db.Read.NewSelect().TableExpr("flow_run AS fr").Join("JOIN work_queue AS wq ON wq.id = fr.work_queue_id").
		Where("wq.work_pool_id = ?", pool.ID).Where("fr.state_type IN (?)", bun.In(slotStates))
	if err := readSlotHolders(ctx, holdersQ, &holders); err != nil {
		return err
	}
	byQueue := map[uuid.UUID][]slotHolder{}
	for _, sh := range holders {
		byQueue[*sh.QueueID] = append(byQueue[*sh.QueueID], sh)
	}
	out := poolConcurrency{ActiveSlots: len(holders), ConcurrencyLimit: pool.ConcurrencyLimit, Queues: []queueConcurrency{},
		Count: int(total), Limit: limit, Pages: pages(int(total), limit), Page: pn.Page}
	for _, q := range queues {
		runs := byQueue[q.ID]
		shown := runs[:min(len(runs), flowRunLimit)]
		if shown == nil {
			shown = []slotHolder{}
		}
		out.Queues = append(out.Queues, queueConcurrency{QueueID: q.ID, QueueName: q.Name, ActiveSlots: len(runs),
			ConcurrencyLimit: q.ConcurrencyLimit, FlowRuns: shown, FlowRunCount: len(runs)})
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// queueConcurrencyStatus serves POST /work_queues/{id}/concurrency_status:
// a page of the runs holding the queue's slots (PENDING, RUNNING,
// CANCELLING; by queue id, or by queue name for runs without one).
func (h *pollHandlers) queueConcurrencyStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	pn := api.PageNumber{}
	if err := api.DecodeParams(r, pn.Params()); err != nil {
		return err
	}
	limit, offset, err := pn.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	ctx, store := r.Context(), h.sched.store
	q, err := store.queueByID(ctx, store.db.Read, id)
	if errors.Is(err, db.ErrNotFound) {
		return api.NotFound("Work queue not found.").Wrap(err)
	}
	if err != nil {
		return err
	}
	holding := func() *bun.SelectQuery {
		return store.db.Read.NewSelect().TableExpr("flow_run AS fr").
			Where("fr.work_queue_id = ? OR (fr.work_queue_id IS NULL AND fr.work_queue_name = ?)", id, q.Name).
			Where("fr.state_type IN (?)", bun.In(queueSlotStates))
	}
	total, err := holding().Count(ctx)
	if err != nil {
		return fmt.Errorf("count slot holders: %w", db.Translate(err))
	}
	holders := []slotHolder{}
	if limit > 0 {
		if err := readSlotHolders(ctx, holding().Limit(int64(limit)).Offset(int64(offset)), &holders); err != nil {
			return err
		}
	}
	return api.WriteJSON(w, http.StatusOK, queueConcurrencyStatus{ActiveSlots: int(total), ConcurrencyLimit: q.ConcurrencyLimit,
		FlowRuns: holders, Count: int(total), Limit: limit, Pages: pages(int(total), limit), Page: pn.Page})
}
