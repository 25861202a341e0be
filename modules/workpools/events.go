package workpools

import (
	"context"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/types"
)

// poolEvents emits the events Prefect's server emits for work pools and
// queues (models/events.py). An event that cannot be published is logged,
// never fails the request, as with Prefect's best-effort events client.
type poolEvents struct {
	emitter events.Emitter
	log     *zap.Logger
}

func (e *poolEvents) emit(ctx context.Context, evs ...*events.Event) {
	if e == nil || e.emitter == nil {
		return
	}
	if err := e.emitter.Emit(ctx, evs...); err != nil {
		e.log.Warn("emit work pool event", zap.String("event", evs[0].Event), zap.Error(err))
	}
}

func poolResource(p *WorkPool) events.Labels {
	return events.L(events.LabelID, events.ResourceID("work-pool", p.ID), events.LabelName, p.Name,
		"prefect.work-pool.type", p.Type, events.LabelRole, "work-pool")
}

// poolRelated is the pool's default queue and result storage block.
func poolRelated(p *WorkPool) []events.Labels {
	out := []events.Labels{}
	if p.DefaultQueueID != nil {
		out = append(out, events.L(events.LabelID, events.ResourceID("work-queue", *p.DefaultQueueID), events.LabelRole, "default-queue"))
	}
	if id := p.StorageConfiguration.DefaultResultStorageBlockID; id != nil {
		out = append(out, events.L(events.LabelID, events.ResourceID("block-document", *id), events.LabelRole, "result-storage"))
	}
	return out
}

func (e *poolEvents) poolCreated(ctx context.Context, p *WorkPool) {
	e.emit(ctx, &events.Event{Event: "prefect.work-pool.created", Resource: poolResource(p), Related: poolRelated(p)})
}

func (e *poolEvents) poolDeleted(ctx context.Context, p *WorkPool) {
	e.emit(ctx, &events.Event{Event: "prefect.work-pool.deleted", Resource: poolResource(p), Related: poolRelated(p)})
}

func (e *poolEvents) poolUpdated(ctx context.Context, p *WorkPool, changes map[string]change) {
	if len(changes) == 0 {
		return
	}
	e.emit(ctx, &events.Event{Event: "prefect.work-pool.updated", Resource: poolResource(p),
		Payload: events.Payload(updatesPayload(changes))})
}

// poolStatus emits prefect.work-pool.<status> with the event id and time the
// pool row recorded; it follows the previous status event when that was
// recent (Prefect: within 10 minutes).
func (e *poolEvents) poolStatus(ctx context.Context, before, after *WorkPool) {
	if after.Type == agentPoolType || after.LastStatusEventID == nil || after.LastTransitionedStatusAt == nil {
		return
	}
	ev := &events.Event{ID: *after.LastStatusEventID, Occurred: *after.LastTransitionedStatusAt,
		Event: "prefect.work-pool." + kebab(after.Status),
		Resource: events.L(events.LabelID, events.ResourceID("work-pool", after.ID), events.LabelName, after.Name,
			"prefect.work-pool.type", after.Type)}
	if before != nil && before.LastStatusEventID != nil && before.LastTransitionedStatusAt != nil &&
		types.Now().Sub(before.LastTransitionedStatusAt.Time).Minutes() < 10 {
		ev.Follows = before.LastStatusEventID
	}
	e.emit(ctx, ev)
}

func queueResource(q *WorkQueue) events.Labels {
	return events.L(events.LabelID, events.ResourceID("work-queue", q.ID), events.LabelName, q.Name, events.LabelRole, "work-queue")
}

// queueRelated is the queue's pool, when its name is known.
func queueRelated(q *WorkQueue, poolType string) []events.Labels {
	if q.PoolName == "" {
		return []events.Labels{}
	}
	return []events.Labels{events.L(events.LabelID, events.ResourceID("work-pool", q.WorkPoolID), events.LabelName, q.PoolName,
		"prefect.work-pool.type", poolType, events.LabelRole, "work-pool")}
}

func (e *poolEvents) queueCreated(ctx context.Context, q *WorkQueue, poolType string) {
	e.emit(ctx, &events.Event{Event: "prefect.work-queue.created", Resource: queueResource(q), Related: queueRelated(q, poolType)})
}

func (e *poolEvents) queueDeleted(ctx context.Context, q *WorkQueue, poolType string) {
	e.emit(ctx, &events.Event{Event: "prefect.work-queue.deleted", Resource: queueResource(q), Related: queueRelated(q, poolType)})
}

func (e *poolEvents) queueUpdated(ctx context.Context, q *WorkQueue, poolType string, changes map[string]change) {
	if len(changes) == 0 {
		return
	}
	e.emit(ctx, &events.Event{Event: "prefect.work-queue.updated", Resource: queueResource(q), Related: queueRelated(q, poolType),
		Payload: events.Payload(updatesPayload(changes))})
}

// queueStatus emits prefect.work-queue.<status> (ready, not-ready, paused).
func (e *poolEvents) queueStatus(ctx context.Context, q *WorkQueue, poolType string) {
	e.emit(ctx, &events.Event{ID: newEventID(), Event: "prefect.work-queue." + kebab(q.Status),
		Resource: queueResource(q), Related: queueRelated(q, poolType)})
}

// change is one field's old and new value, for an "updated" event.
type change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

func updatesPayload(changes map[string]change) map[string]any {
	fields := make([]string, 0, len(changes))
	for _, f := range []string{"name", "description", "base_job_template", "concurrency_limit", "priority", "storage_configuration"} {
		if _, ok := changes[f]; ok {
			fields = append(fields, f)
		}
	}
	return map[string]any{"updated_fields": fields, "updates": changes}
}

// kebab writes a status as Prefect's in_kebab_case: NOT_READY -> not-ready.
func kebab(status string) string {
	out := []byte(status)
	for i, c := range out {
		switch {
		case c == '_':
			out[i] = '-'
		case c >= 'A' && c <= 'Z':
			out[i] = c + 'a' - 'A'
		}
	}
	return string(out)
}

// newEventID is a time-ordered id as Prefect's uuid7.
func newEventID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}
