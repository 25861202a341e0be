package automations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// bucket counts the events of one trigger and bucketing key within a window
// (Prefect's automation_bucket).
type bucket struct {
	bun.BaseModel `bun:"table:automation_bucket,alias:ab"`

	ID            uuid.UUID       `bun:"id,pk,type:uuid"`
	Created       types.DateTime  `bun:"created,notnull"`
	Updated       types.DateTime  `bun:"updated,notnull"`
	AutomationID  uuid.UUID       `bun:"automation_id,notnull,type:uuid"`
	TriggerID     uuid.UUID       `bun:"trigger_id,notnull,type:uuid"`
	BucketingKey  string          `bun:"bucketing_key,notnull"` // a JSON list of strings
	LastEvent     json.RawMessage `bun:"last_event,nullzero"`
	Start         types.DateTime  `bun:"start,notnull"`
	End           types.DateTime  `bun:"end,notnull"`
	Count         int             `bun:"count,notnull"`
	LastOperation string          `bun:"last_operation,nullzero"`
	TriggeredAt   *types.DateTime `bun:"triggered_at"`
}

// lastEvent decodes the bucket's last event, nil when it has none.
func (b *bucket) lastEvent() *events.Event {
	if len(b.LastEvent) == 0 || string(b.LastEvent) == "null" {
		return nil
	}
	var e events.Event
	if err := json.Unmarshal(b.LastEvent, &e); err != nil {
		return nil
	}
	return &e
}

func (b *bucket) key() []string {
	var k []string
	_ = json.Unmarshal([]byte(b.BucketingKey), &k) // written by encodeKey
	return k
}

func encodeKey(key []string) string {
	if key == nil {
		key = []string{}
	}
	b, _ := json.Marshal(key) // a []string always marshals
	return string(b)
}

func encodeEvent(e *events.Event) json.RawMessage {
	if e == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil
	}
	return b
}

// buckets are the bucket operations of Prefect's triggers module, each
// inside the caller's transaction.
type buckets struct{ tx bun.IDB }

func (s buckets) where(q bun.QueryBuilder, t *trigger, key []string) bun.QueryBuilder {
	return q.Where("automation_id = ?", t.owner.automation.ID).Where("trigger_id = ?", t.ID).
		Where("bucketing_key = ?", encodeKey(key))
}

func (s buckets) read(ctx context.Context, t *trigger, key []string) (*bucket, error) {
	var b bucket
	q := s.tx.NewSelect().Model(&b)
	s.where(q.QueryBuilder(), t, key)
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("read bucket: %w", db.Translate(err))
	}
	return &b, nil
}

func (s buckets) readAll(ctx context.Context, t *trigger) ([]bucket, error) {
	var bs []bucket
	err := s.tx.NewSelect().Model(&bs).Where("automation_id = ?", t.owner.automation.ID).
		Where("trigger_id = ?", t.ID).OrderExpr(`"start"`).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read buckets: %w", db.Translate(err))
	}
	return bs, nil
}

// upsert inserts a bucket or, on conflict, applies set (SQL with EXCLUDED).
func (s buckets) upsert(ctx context.Context, t *trigger, key []string, start, end time.Time, count int,
	last *events.Event, op string, set ...string) (*bucket, error) {
	now := types.Now()
	b := &bucket{ID: uuid.New(), Created: now, Updated: now, AutomationID: t.owner.automation.ID, TriggerID: t.ID,
		BucketingKey: encodeKey(key), LastEvent: encodeEvent(last), Start: types.From(start), End: types.From(end),
		Count: count, LastOperation: op + "[insert]"}
	q := s.tx.NewInsert().Model(b).On("CONFLICT (automation_id, trigger_id, bucketing_key) DO UPDATE")
	for _, expr := range set {
		q = q.Set(expr)
	}
	if _, err := q.Exec(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", op, db.Translate(err))
	}
	return s.read(ctx, t, key)
}

// ensure creates the bucket unless there is one; either way it returns it.
func (s buckets) ensure(ctx context.Context, t *trigger, key []string, start, end time.Time, last *events.Event, initial int) (*bucket, error) {
	return s.upsert(ctx, t, key, start, end, initial, last, "ensure_bucket", "count = ab.count")
}

// startNew replaces the bucket's window and count.
func (s buckets) startNew(ctx context.Context, t *trigger, key []string, start, end time.Time, count int, last *events.Event) (*bucket, error) {
	return s.upsert(ctx, t, key, start, end, count, last, "start_new_bucket",
		`"start" = EXCLUDED."start"`, `"end" = EXCLUDED."end"`, "count = EXCLUDED.count",
		"last_operation = 'start_new_bucket[update]'", "updated = EXCLUDED.updated",
		"triggered_at = NULL", "last_event = EXCLUDED.last_event")
}

// increment adds count to the bucket and records its last event.
func (s buckets) increment(ctx context.Context, b *bucket, t *trigger, count int, last *events.Event) (*bucket, error) {
	set := []string{"count = ab.count + EXCLUDED.count", "last_operation = 'increment_bucket[update]'", "updated = EXCLUDED.updated"}
	if last != nil {
		set = append(set, "last_event = EXCLUDED.last_event")
	}
	return s.upsert(ctx, t, b.key(), b.Start.Time, b.End.Time, count, last, "increment_bucket", set...)
}

func (s buckets) remove(ctx context.Context, t *trigger, key []string) error {
	q := s.tx.NewDelete().Model((*bucket)(nil))
	s.where(q.QueryBuilder(), t, key)
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("remove bucket: %w", db.Translate(err))
	}
	return nil
}

// removeExceeding drops a proactive trigger's buckets that already saw
// enough events.
func (s buckets) removeExceeding(ctx context.Context, t *trigger) error {
	_, err := s.tx.NewDelete().Model((*bucket)(nil)).Where("automation_id = ?", t.owner.automation.ID).
		Where("trigger_id = ?", t.ID).Where("count >= ?", t.Threshold).Exec(ctx)
	if err != nil {
		return fmt.Errorf("remove full buckets: %w", db.Translate(err))
	}
	return nil
}

// sweep drops every bucket whose window closed before olderThan.
func (s buckets) sweep(ctx context.Context, olderThan time.Time) error {
	_, err := s.tx.NewDelete().Model((*bucket)(nil)).Where(`"end" <= ?`, types.From(olderThan)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("sweep closed buckets: %w", db.Translate(err))
	}
	return nil
}
