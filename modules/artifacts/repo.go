package artifacts

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo reads and writes artifacts and their collections.
type repo struct {
	db      *db.DB
	filters *filter.Registry
}

// create inserts the artifact and, when it has a key, makes it the latest
// of its collection (inserted, or updated from the artifact's fields), as
// Prefect's create_artifact does.
func (r *repo) create(ctx context.Context, a *Artifact) error {
	return r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if a.Key != nil {
			c := &Collection{ID: uuid.New(), Created: a.Created, Updated: a.Updated, Key: *a.Key, LatestID: a.ID,
				Type: a.Type, Description: a.Description, Data: a.Data, Metadata: a.Metadata, FlowRunID: a.FlowRunID, TaskRunID: a.TaskRunID}
			q := tx.NewInsert().Model(c).On("CONFLICT (key) DO UPDATE")
			for _, col := range []string{"latest_id", "updated", "type", "description", "data", "metadata_", "flow_run_id", "task_run_id"} {
				q = q.Set("? = EXCLUDED.?", bun.Ident(col), bun.Ident(col))
			}
			if _, err := q.Exec(ctx); err != nil {
				return fmt.Errorf("upsert artifact collection %q: %w", *a.Key, db.Translate(err))
			}
		}
		if _, err := tx.NewInsert().Model(a).Exec(ctx); err != nil {
			return fmt.Errorf("insert artifact: %w", db.Translate(err))
		}
		return nil
	})
}

func (r *repo) byID(ctx context.Context, id uuid.UUID) (*Artifact, error) {
	var a Artifact
	if err := r.db.Read.NewSelect().Model(&a).Where("artifact.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", id, db.Translate(err))
	}
	return &a, nil
}

func (r *repo) latest(ctx context.Context, key string) (*Collection, error) {
	var c Collection
	if err := r.db.Read.NewSelect().Model(&c).Where("artifact_collection.key = ?", key).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read latest artifact %q: %w", key, db.Translate(err))
	}
	return &c, nil
}

// update sets the fields sent on the artifact and, if it is the latest of
// its key, on the collection; false if neither exists.
func (r *repo) update(ctx context.Context, id uuid.UUID, u *artifactUpdate) (bool, error) {
	now := types.Now()
	var n int64
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []*bun.UpdateQuery{
			tx.NewUpdate().Model((*Artifact)(nil)).Where("id = ?", id),
			tx.NewUpdate().Model((*Collection)(nil)).Where("latest_id = ?", id),
		} {
			res, err := u.apply(q.Set("updated = ?", now)).Exec(ctx)
			if err != nil {
				return fmt.Errorf("update artifact %s: %w", id, db.Translate(err))
			}
			rows, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("update artifact %s: %w", id, err)
			}
			n += rows
		}
		return nil
	})
	return n > 0, err
}

// apply adds the fields sent to an UPDATE of either table.
func (u *artifactUpdate) apply(q *bun.UpdateQuery) *bun.UpdateQuery {
	if u.Data != nil {
		q = setJSON(q, "data", nullToNil(u.Data))
	}
	if u.Description != nil {
		q = q.Set("description = ?", u.description)
	}
	if u.Metadata != nil {
		var raw json.RawMessage
		if u.metadata != nil {
			raw, _ = json.Marshal(u.metadata) // a map[string]string always marshals
		}
		q = setJSON(q, "metadata_", raw)
	}
	return q
}

// setJSON sets a JSON column to raw, or to NULL when raw is nil; the value
// goes as text, which both dialects take for a JSON column.
func setJSON(q *bun.UpdateQuery, col string, raw json.RawMessage) *bun.UpdateQuery {
	if raw == nil {
		return q.Set("? = NULL", bun.Ident(col))
	}
	return q.Set("? = ?", bun.Ident(col), string(raw))
}

// delete removes an artifact; if it was the latest of its key, the next
// latest (by created) takes its place in the collection, or the collection
// goes when none is left (Prefect's delete_artifact). false if no such
// artifact.
func (r *repo) delete(ctx context.Context, id uuid.UUID) (bool, error) {
	found := false
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var a Artifact
		if err := tx.NewSelect().Model(&a).Where("artifact.id = ?", id).Scan(ctx); err != nil {
			if err = db.Translate(err); isNotFound(err) {
				return nil
			}
			return fmt.Errorf("read artifact %s: %w", id, err)
		}
		found = true
		if a.Key != nil {
			if err := r.replaceLatest(ctx, tx, &a); err != nil {
				return err
			}
		}
		if _, err := tx.NewDelete().Model((*Artifact)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("delete artifact %s: %w", id, db.Translate(err))
		}
		return nil
	})
	return found, err
}

// replaceLatest moves a's collection to the next latest artifact of its key
// when a is the latest, or deletes it when a is the last one.
func (r *repo) replaceLatest(ctx context.Context, tx bun.Tx, a *Artifact) error {
	n, err := tx.NewSelect().Model((*Collection)(nil)).
		Where("artifact_collection.key = ? AND artifact_collection.latest_id = ?", *a.Key, a.ID).Count(ctx)
	if err != nil || n == 0 {
		return db.Translate(err)
	}
	var next []Artifact
	if err := tx.NewSelect().Model(&next).Where("artifact.key = ? AND artifact.id != ?", *a.Key, a.ID).
		OrderExpr("artifact.created DESC, artifact.id DESC").Limit(1).Scan(ctx); err != nil {
		return fmt.Errorf("read next latest artifact %q: %w", *a.Key, db.Translate(err))
	}
	if len(next) == 0 {
		_, err := tx.NewDelete().Model((*Collection)(nil)).Where("key = ? AND latest_id = ?", *a.Key, a.ID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete artifact collection %q: %w", *a.Key, db.Translate(err))
		}
		return nil
	}
	nx := &next[0]
	q := tx.NewUpdate().Model((*Collection)(nil)).Where("key = ?", *a.Key).
		Set("latest_id = ?", nx.ID).Set("type = ?", nx.Type).Set("description = ?", nx.Description).
		Set("created = ?", nx.Created).Set("updated = ?", nx.Updated).
		Set("flow_run_id = ?", nx.FlowRunID).Set("task_run_id = ?", nx.TaskRunID)
	q = setJSON(q, "data", nx.Data)
	var meta json.RawMessage
	if nx.Metadata != nil {
		meta, _ = json.Marshal(nx.Metadata) // a map[string]string always marshals
	}
	if _, err := setJSON(q, "metadata_", meta).Exec(ctx); err != nil {
		return fmt.Errorf("move artifact collection %q: %w", *a.Key, db.Translate(err))
	}
	return nil
}

// query is a parsed filter request: the artifacts' own filter and the run,
// flow and deployment filters that other modules own.
type query struct {
	Own         *artifactFilter
	FlowRuns    json.RawMessage
	TaskRuns    json.RawMessage
	Flows       json.RawMessage
	Deployments json.RawMessage
}

// apply filters q, on table "artifact" or "artifact_collection", as
// Prefect's _apply_artifact_filters: the own filter, then one EXISTS on the
// row's flow run (joined to its flow and deployment when those filters are
// given), then one EXISTS on its task run. The runs tables belong to other
// modules: when no module of this build owns them, no row has a run, so
// these filters match nothing.
func (r *repo) apply(q *bun.SelectQuery, table string, fq query) (*bun.SelectQuery, error) {
	q = fq.Own.where(table).Apply(q)
	if fq.FlowRuns != nil || fq.Flows != nil || fq.Deployments != nil {
		sub, err := r.runExists("flow_runs", "flow_run", table+".flow_run_id", fq.FlowRuns)
		if sub != nil && err == nil {
			if sub, err = r.filters.Related(sub, "flow_run", "flows", fq.Flows); err == nil {
				sub, err = r.filters.Related(sub, "flow_run", "deployments", fq.Deployments)
			}
		}
		if err != nil {
			return nil, err
		}
		q = existsOrNothing(q, sub)
	}
	if fq.TaskRuns != nil {
		sub, err := r.runExists("task_runs", "task_run", table+".task_run_id", fq.TaskRuns)
		if err != nil {
			return nil, err
		}
		q = existsOrNothing(q, sub)
	}
	return q, nil
}

// runExists selects the run (of the module owning key, on runTable) that
// col names, filtered by raw; nil when no module owns key.
func (r *repo) runExists(key, runTable, col string, raw json.RawMessage) (*bun.SelectQuery, error) {
	if !slices.Contains(r.filters.Keys(), key) {
		return nil, nil
	}
	sub := r.db.Read.NewSelect().TableExpr("? AS ?", bun.Ident(runTable), bun.Ident(runTable)).ColumnExpr("1").
		Where(runTable + ".id = " + col)
	return r.filters.Own(sub, key, raw)
}

func existsOrNothing(q, sub *bun.SelectQuery) *bun.SelectQuery {
	if sub == nil {
		return q.Where("1 = 0")
	}
	return q.Where("EXISTS (?)", sub)
}

func (r *repo) list(ctx context.Context, fq query, order string, limit, offset int) ([]Artifact, error) {
	out := []Artifact{}
	q, err := r.apply(r.db.Read.NewSelect().Model(&out), "artifact", fq)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "artifacts", order, limit, offset); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *repo) listLatest(ctx context.Context, fq query, order string, limit, offset int) ([]Collection, error) {
	out := []Collection{}
	q, err := r.apply(r.db.Read.NewSelect().Model(&out), "artifact_collection", fq)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "artifact collections", order, limit, offset); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *repo) count(ctx context.Context, model any, table string, fq query) (int, error) {
	q, err := r.apply(r.db.Read.NewSelect().Model(model), table, fq)
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, table)
}
