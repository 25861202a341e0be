package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo stores and reads events.
type repo struct {
	db *db.DB
}

// eventRow is a row of the events table as it is read back.
type eventRow struct {
	bun.BaseModel `bun:"table:events,alias:events"`

	ID       uuid.UUID      `bun:"id,type:uuid"`
	Occurred types.DateTime `bun:"occurred"`
	Event    string         `bun:"event"`
	Resource string         `bun:"resource"`
	Related  string         `bun:"related"`
	Payload  string         `bun:"payload"`
	Received types.DateTime `bun:"received"`
	Follows  *uuid.UUID     `bun:"follows,type:uuid"`
}

func (r *eventRow) event() (*Event, error) {
	e := &Event{ID: r.ID, Occurred: r.Occurred, Event: r.Event, Received: r.Received, Follows: r.Follows,
		Payload: json.RawMessage(r.Payload)}
	if err := json.Unmarshal([]byte(r.Resource), &e.Resource); err != nil {
		return nil, fmt.Errorf("read event %s resource: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Related), &e.Related); err != nil {
		return nil, fmt.Errorf("read event %s related: %w", r.ID, err)
	}
	e.normalize()
	return e, nil
}

// write stores events, each id once: an event whose id is stored already is
// skipped with its resources (Prefect's insert ... on conflict do nothing).
// It returns how many were new. One transaction for the whole batch.
func (r *repo) write(ctx context.Context, evs []*Event) (int, error) {
	rows := newRows(evs, types.Now())
	if len(rows) == 0 {
		return 0, nil
	}
	inserted := 0
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if r.db.IsPostgres() {
			inserted, err = writePostgres(ctx, tx.Tx, rows)
		} else {
			inserted, err = writeSQLite(ctx, tx.Tx, rows)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("write %d events: %w", len(rows), db.Translate(err))
	}
	return inserted, nil
}

// row is an event encoded for its columns, with its event_resources rows.
type row struct {
	id, occurred, event, resourceID string
	resource, relatedIDs, related   string
	payload, received, recorded     string
	follows                         *string
	resources                       []resourceRow
	occurredAt, receivedAt          time.Time
}

type resourceRow struct{ id, role, labels string }

// newRows encodes events for storage, dropping repeated ids of the batch.
func newRows(evs []*Event, recorded types.DateTime) []row {
	seen := make(map[uuid.UUID]bool, len(evs))
	out := make([]row, 0, len(evs))
	rec := stamp(recorded)
	for _, e := range evs {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		e.normalize()
		res, _ := e.Resource.MarshalJSON()
		rel, _ := json.Marshal(e.Related)
		ids := make([]string, len(e.Related))
		resources := make([]resourceRow, 0, 1+len(e.Related))
		lbl, _ := e.Resource.without(LabelID, LabelRole).MarshalJSON()
		resources = append(resources, resourceRow{e.Resource.ID(), "", string(lbl)})
		for i, r := range e.Related {
			ids[i] = r.ID()
			lbl, _ := r.without(LabelID, LabelRole).MarshalJSON()
			resources = append(resources, resourceRow{r.ID(), r.Role(), string(lbl)})
		}
		idsJSON, _ := json.Marshal(ids)
		rw := row{id: e.ID.String(), occurred: stamp(e.Occurred), event: e.Event, resourceID: e.Resource.ID(),
			resource: string(res), relatedIDs: string(idsJSON), related: string(rel), payload: string(e.Payload),
			received: stamp(e.Received), recorded: rec, resources: resources,
			occurredAt: e.Occurred.Time, receivedAt: e.Received.Time}
		if e.Follows != nil {
			f := e.Follows.String()
			rw.follows = &f
		}
		out = append(out, rw)
	}
	return out
}

// stamp is a datetime's stored text (what types.DateTime.Value gives).
func stamp(t types.DateTime) string {
	v, _ := t.Value() // always a string
	return v.(string)
}

// sqliteChunk keeps a statement under SQLite's 32766 parameters.
const sqliteChunk = 500

func writeSQLite(ctx context.Context, tx *sql.Tx, rows []row) (int, error) {
	inserted := map[string]bool{}
	for start := 0; start < len(rows); start += sqliteChunk {
		chunk := rows[start:min(start+sqliteChunk, len(rows))]
		args := make([]any, 0, len(chunk)*11)
		for _, r := range chunk {
			args = append(args, r.id, r.occurred, r.event, r.resourceID, r.resource, r.relatedIDs, r.related,
				r.payload, r.received, r.recorded, r.follows)
		}
		q := "INSERT INTO events (id, occurred, event, resource_id, resource, related_resource_ids, related, payload, received, recorded, follows) VALUES " +
			values(len(chunk), 11) + " ON CONFLICT (id) DO NOTHING RETURNING id"
		if err := collectIDs(ctx, tx, q, args, inserted); err != nil {
			return 0, err
		}
	}
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		q := "INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id) VALUES " + values(len(args)/5, 5)
		_, err := tx.ExecContext(ctx, q, args...)
		args = args[:0]
		return err
	}
	for _, r := range rows {
		if !inserted[r.id] {
			continue
		}
		for _, rr := range r.resources {
			args = append(args, r.occurred, rr.id, rr.role, rr.labels, r.id)
			if len(args) >= sqliteChunk*5*2 {
				if err := flush(); err != nil {
					return 0, fmt.Errorf("insert event resources: %w", err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return 0, fmt.Errorf("insert event resources: %w", err)
	}
	return len(inserted), nil
}

func collectIDs(ctx context.Context, tx *sql.Tx, q string, args []any, into map[string]bool) error {
	rs, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		into[strings.ToLower(id)] = true
	}
	return rs.Err()
}

// values is "(?, ?), (?, ?)" for n rows of k columns.
func values(n, k int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", k), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
}

// writePostgres inserts the batch with one statement per table, each column
// passed as an array and expanded by unnest (no parameter limit, one round
// trip, the pgx driver's binary encoding).
func writePostgres(ctx context.Context, tx *sql.Tx, rows []row) (int, error) {
	n := len(rows)
	ids, occurred, names, resIDs := make([]string, n), make([]time.Time, n), make([]string, n), make([]string, n)
	res, relIDs, rel, payload := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	received, follows := make([]time.Time, n), make([]*string, n)
	for i, r := range rows {
		ids[i], occurred[i], names[i], resIDs[i] = r.id, r.occurredAt, r.event, r.resourceID
		res[i], relIDs[i], rel[i], payload[i] = r.resource, r.relatedIDs, r.related, r.payload
		received[i], follows[i] = r.receivedAt, r.follows
	}
	q := `INSERT INTO events (id, occurred, event, resource_id, resource, related_resource_ids, related, payload, received, follows, recorded)
SELECT u.*, $11::timestamptz FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[],
	$7::jsonb[], $8::jsonb[], $9::timestamptz[], $10::uuid[]) AS u
ON CONFLICT (id) DO NOTHING RETURNING id`
	inserted := map[string]bool{}
	if err := collectIDs(ctx, tx, q, []any{ids, occurred, names, resIDs, res, relIDs, rel, payload, received, follows, time.Now().UTC()}, inserted); err != nil {
		return 0, err
	}
	var rOcc []time.Time
	var rIDs, rRoles, rLabels, rEvents []string
	for _, r := range rows {
		if !inserted[r.id] {
			continue
		}
		for _, rr := range r.resources {
			rOcc, rIDs, rRoles = append(rOcc, r.occurredAt), append(rIDs, rr.id), append(rRoles, rr.role)
			rLabels, rEvents = append(rLabels, rr.labels), append(rEvents, r.id)
		}
	}
	if len(rIDs) > 0 {
		q := `INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[], $5::uuid[])`
		if _, err := tx.ExecContext(ctx, q, rOcc, rIDs, rRoles, rLabels, rEvents); err != nil {
			return 0, fmt.Errorf("insert event resources: %w", err)
		}
	}
	return len(inserted), nil
}

// query returns a page of the events matching f, in f's order (ties broken
// by id so that pages never overlap).
func (r *repo) query(ctx context.Context, f *EventFilter, limit, offset int) ([]*Event, error) {
	if len(f.ID.ID) > 0 {
		limit = min(limit, len(f.ID.ID)) // Prefect's logical_limit
	}
	if limit <= 0 {
		return []*Event{}, nil
	}
	dir := "DESC"
	if f.Order == OrderASC {
		dir = "ASC"
	}
	var rows []eventRow
	rd := r.db.Read
	q := rd.NewSelect().Model(&rows)
	if f.Resource != nil && f.Resource.Distinct {
		// The first event of each resource, in the requested order.
		inner := f.where(rd).Apply(rd.NewSelect().TableExpr("events").ColumnExpr("events.*").
			ColumnExpr("row_number() OVER (PARTITION BY events.resource_id ORDER BY events.occurred " + dir + ", events.id " + dir + ") AS rn"))
		q = q.ModelTableExpr("(?) AS events", inner).Where("events.rn = 1")
	} else {
		q = f.where(rd).Apply(q)
	}
	err := q.OrderExpr("events.occurred " + dir + ", events.id " + dir).Limit(int64(limit)).Offset(int64(offset)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", db.Translate(err))
	}
	out := make([]*Event, 0, len(rows))
	for i := range rows {
		e, err := rows[i].event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// count is how many events match f (distinct resources with resource.distinct).
func (r *repo) count(ctx context.Context, f *EventFilter) (int, error) {
	col := "count(*)"
	if f.Resource != nil && f.Resource.Distinct {
		col = "count(DISTINCT events.resource_id)"
	}
	var n int
	q := f.where(r.db.Read).Apply(r.db.Read.NewSelect().TableExpr("events").ColumnExpr(col))
	if err := q.Scan(ctx, &n); err != nil {
		return 0, fmt.Errorf("count events: %w", db.Translate(err))
	}
	return n, nil
}
