package deployments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo reads and writes deployments and their schedules.
type repo struct {
	db      *db.DB
	filters *filter.Registry
	pools   *workpools.Lookup
	limits  *concurrency.DeploymentSlots
	events  *deploymentEvents
}

func isNotFound(err error) bool { return errors.Is(err, db.ErrNotFound) }

// upsert inserts d, or updates the columns in set of the deployment with
// its flow and name (Prefect's create_deployment), then replaces its
// schedules and deletes its future auto-scheduled runs. It returns the
// deployment's id and whether it was inserted.
func (r *repo) upsert(ctx context.Context, d *Deployment, set columns, target *queueTarget, limit optionalInt, schedules []scheduleCreate) (uuid.UUID, bool, error) {
	id := d.ID
	inserted := false
	before, _ := r.readWhere(ctx, r.db.Read, "deployment.flow_id = ? AND deployment.name = ?", d.FlowID, d.Name)
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := target.resolve(ctx, tx, r.pools, d, &set); err != nil {
			return err
		}
		res, err := tx.NewInsert().Model(d).On("CONFLICT (flow_id, name) DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("insert deployment: %w", db.Translate(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if inserted = n == 1; !inserted {
			q := tx.NewUpdate().Model(d).Column(append(set, "updated")...).
				Where("flow_id = ? AND name = ?", d.FlowID, d.Name).Returning("id")
			if err := q.Scan(ctx, &id); err != nil {
				return fmt.Errorf("update deployment: %w", db.Translate(err))
			}
		}
		if err := r.setLimit(ctx, tx, id, limit); err != nil {
			return err
		}
		if err := deleteScheduledRuns(ctx, tx, id, true, true); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*DeploymentSchedule)(nil)).Where("deployment_id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("delete schedules: %w", err)
		}
		_, err = insertSchedules(ctx, tx, id, schedules)
		return err
	})
	if err == nil {
		r.emitChange(ctx, id, before, inserted)
	}
	return id, inserted, err
}

// emitChange emits created, or updated with what changed since before.
func (r *repo) emitChange(ctx context.Context, id uuid.UUID, before *Deployment, inserted bool) {
	after, err := r.byID(ctx, id)
	if err != nil {
		return
	}
	switch {
	case inserted:
		r.events.created(ctx, r.db.Read, after)
	case before != nil:
		r.events.updated(ctx, r.db.Read, before, after)
	}
}

// deleteScheduledRuns deletes the deployment's runs that are Scheduled and
// have never run (not those awaiting a concurrency slot), only auto-scheduled
// future ones when autoOnly (Prefect's _delete_scheduled_runs).
// setLimit keeps the deployment's concurrency limit when the body sent one
// (a null deletes it), and records its id on the deployment.
func (r *repo) setLimit(ctx context.Context, tx bun.IDB, id uuid.UUID, limit optionalInt) error {
	if !limit.Set {
		return nil
	}
	limitID, err := r.limits.SetLimit(ctx, tx, id, limit.Value)
	if err != nil {
		return err
	}
	_, err = tx.NewUpdate().Table("deployment").Set("concurrency_limit_id = ?", limitID).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("record limit of deployment %s: %w", id, err)
	}
	return nil
}

func deleteScheduledRuns(ctx context.Context, tx bun.IDB, deploymentID uuid.UUID, autoOnly, futureOnly bool) error {
	q := tx.NewDelete().Table("flow_run").
		Where("deployment_id = ?", deploymentID).
		Where("state_type = 'SCHEDULED'").
		Where("state_name <> 'AwaitingConcurrencySlot'").
		Where("run_count = 0")
	if autoOnly {
		q = q.Where("auto_scheduled = ?", true)
	}
	if futureOnly {
		q = q.Where("next_scheduled_start_time > ?", types.Now())
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("delete scheduled runs of deployment %s: %w", deploymentID, err)
	}
	return nil
}

func insertSchedules(ctx context.Context, tx bun.IDB, deploymentID uuid.UUID, in []scheduleCreate) ([]*DeploymentSchedule, error) {
	out := make([]*DeploymentSchedule, 0, len(in))
	if len(in) == 0 {
		return out, nil
	}
	now := types.Now()
	for _, s := range in {
		row := &DeploymentSchedule{ID: uuid.New(), Created: now, Updated: now, DeploymentID: deploymentID,
			Schedule: *s.Schedule, Active: true, MaxScheduledRuns: s.MaxScheduledRuns, Parameters: orEmpty(s.Parameters), Slug: s.Slug}
		if s.Active != nil {
			row.Active = *s.Active
		}
		out = append(out, row)
	}
	if _, err := tx.NewInsert().Model(&out).Exec(ctx); err != nil {
		return nil, fmt.Errorf("insert schedules: %w", db.Translate(err))
	}
	return out, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// withSchedules reads deployments with their schedules (one query for all
// schedules, newest update first as Prefect orders them).
func withSchedules(q *bun.SelectQuery) *bun.SelectQuery {
	return q.Relation("Schedules", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Order("deployment_schedule.updated DESC", "deployment_schedule.id")
	})
}

func (r *repo) byID(ctx context.Context, id uuid.UUID) (*Deployment, error) {
	return r.readWhere(ctx, r.db.Read, "deployment.id = ?", id)
}

func (r *repo) readWhere(ctx context.Context, idb bun.IDB, where string, args ...any) (*Deployment, error) {
	var d Deployment
	if err := withSchedules(idb.NewSelect().Model(&d)).Where(where, args...).Limit(1).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read deployment: %w", db.Translate(err))
	}
	if err := r.complete(ctx, []*Deployment{&d}); err != nil {
		return nil, err
	}
	return &d, nil
}

func (r *repo) byName(ctx context.Context, flowName, name string) (*Deployment, error) {
	return r.readWhere(ctx, r.db.Read, "deployment.name = ? AND deployment.flow_id = (SELECT f.id FROM flow AS f WHERE f.name = ?)", name, flowName)
}

// complete fills what the response has that is not stored as such: work
// pool names and concurrency limits, one query each for all ds.
func (r *repo) complete(ctx context.Context, ds []*Deployment) error {
	ready(ds)
	if err := r.fillPools(ctx, ds); err != nil {
		return err
	}
	var ids []uuid.UUID
	for _, d := range ds {
		if d.ConcurrencyLimitID != nil {
			ids = append(ids, *d.ConcurrencyLimitID)
		}
	}
	limits, err := r.limits.Limits(ctx, ids)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.ConcurrencyLimitID == nil {
			continue
		}
		if l, ok := limits[*d.ConcurrencyLimitID]; ok {
			d.GlobalConcurrencyLimit = &l
		}
	}
	return nil
}

// ready fills the defaults of a deployment read from the database.
func ready(ds []*Deployment) {
	for _, d := range ds {
		if d.Schedules == nil {
			d.Schedules = []*DeploymentSchedule{}
		}
		if d.Labels == nil {
			d.Labels = map[string]any{}
		}
	}
}

// relatedKeys are the other modules' filters the deployment lists take.
var relatedKeys = []string{"flows", "flow_runs", "task_runs", "work_pools", "work_pool_queues"}

func (r *repo) filtered(q *bun.SelectQuery, f api.Filters) (*bun.SelectQuery, error) {
	return r.filters.Apply(q, "deployment", "deployments", relatedKeys, f)
}

func (r *repo) list(ctx context.Context, f api.Filters, sort string, limit, offset int) ([]*Deployment, error) {
	out := []*Deployment{}
	q, err := r.filtered(withSchedules(r.db.Read.NewSelect().Model(&out)), f)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "deployments", sortSQL[sort], limit, offset); err != nil {
		return nil, err
	}
	if err := r.complete(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *repo) count(ctx context.Context, f api.Filters) (int, error) {
	q, err := r.filtered(r.db.Read.NewSelect().Model((*Deployment)(nil)), f)
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, "deployments")
}

// update sets the columns in set from d; with schedules != nil it replaces
// the schedules. Future auto-scheduled runs are deleted, as Prefect's
// update_deployment does. False if there is no such deployment.
func (r *repo) update(ctx context.Context, id uuid.UUID, d *Deployment, set columns, target *queueTarget, limit optionalInt, schedules scheduleChange) (bool, error) {
	found := false
	before, _ := r.byID(ctx, id)
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := target.resolve(ctx, tx, r.pools, d, &set); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model(d).Column(append(set, "updated")...).Where("id = ?", id).Exec(ctx)
		if err != nil {
			return fmt.Errorf("update deployment %s: %w", id, db.Translate(err))
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		found = true
		if err := r.setLimit(ctx, tx, id, limit); err != nil {
			return err
		}
		if err := deleteScheduledRuns(ctx, tx, id, true, true); err != nil {
			return err
		}
		if schedules == nil {
			return nil
		}
		return schedules.apply(ctx, tx, id)
	})
	if found && err == nil {
		r.emitChange(ctx, id, before, false)
	}
	return found, err
}

// setPaused pauses or resumes; pausing deletes the future auto-scheduled
// runs (Prefect's pause_deployment). False if there is no such deployment.
func (r *repo) setPaused(ctx context.Context, id uuid.UUID, paused bool) (bool, error) {
	found := false
	before, _ := r.byID(ctx, id)
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Table("deployment").Set("paused = ?", paused).Set("updated = ?", types.Now()).Where("id = ?", id).Exec(ctx)
		if err != nil {
			return fmt.Errorf("pause deployment %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		found = true
		if paused {
			return deleteScheduledRuns(ctx, tx, id, true, false)
		}
		return nil
	})
	if found && err == nil {
		r.emitChange(ctx, id, before, false)
	}
	return found, err
}

// delete deletes a deployment with its schedules and its scheduled runs
// that never ran (Prefect's delete_deployment).
func (r *repo) delete(ctx context.Context, id uuid.UUID) (bool, error) {
	deleted, err := r.deleteByIDs(ctx, []uuid.UUID{id})
	return len(deleted) > 0, err
}

func (r *repo) deleteByIDs(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	deleted := []uuid.UUID{}
	if len(ids) == 0 {
		return deleted, nil
	}
	var gone []*Deployment
	if err := r.db.Read.NewSelect().Model(&gone).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read deployments to delete: %w", err)
	}
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for _, id := range ids {
			if err := deleteScheduledRuns(ctx, tx, id, false, false); err != nil {
				return err
			}
		}
		var limitIDs []uuid.UUID
		err := tx.NewSelect().Table("deployment").Column("concurrency_limit_id").Where("id IN (?)", bun.In(ids)).
			Where("concurrency_limit_id IS NOT NULL").Scan(ctx, &limitIDs)
		if err != nil {
			return fmt.Errorf("read limits of deployments: %w", err)
		}
		if err := tx.NewDelete().Model((*Deployment)(nil)).Where("id IN (?)", bun.In(ids)).Returning("id").Scan(ctx, &deleted); err != nil {
			return err
		}
		return r.limits.DeleteLimits(ctx, tx, limitIDs)
	})
	if err != nil {
		return nil, fmt.Errorf("delete deployments: %w", db.Translate(err))
	}
	for _, d := range gone {
		if slices.Contains(deleted, d.ID) {
			r.events.deleted(ctx, r.db.Read, d)
		}
	}
	return deleted, nil
}

// markReady records a poll of the deployments (Prefect's
// mark_deployments_ready).
func (r *repo) markReady(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	var becoming []*Deployment
	err := r.db.NewUpdate().Model(&becoming).Set("last_polled = ?", types.Now()).Set("status = ?", statusReady).
		Where("id IN (?)", bun.In(ids)).Where("status <> ?", statusReady).Returning("*").Scan(ctx)
	if err != nil {
		return fmt.Errorf("mark deployments ready: %w", err)
	}
	_, err = r.db.NewUpdate().Table("deployment").Set("last_polled = ?", types.Now()).Where("id IN (?)", bun.In(ids)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("mark deployments polled: %w", err)
	}
	for _, d := range becoming {
		r.events.ready(ctx, r.db.Read, d)
	}
	return nil
}

// variable reads a workspace variable's value by name (the variables
// module's table) for parameter hydration.
func (r *repo) variable(ctx context.Context, name string) (any, bool, error) {
	var raw []json.RawMessage
	err := r.db.Read.NewSelect().Table("variable").Column("value").Where("name = ?", name).Limit(1).Scan(ctx, &raw)
	if err != nil {
		return nil, false, fmt.Errorf("read variable %q: %w", name, db.Translate(err))
	}
	if len(raw) == 0 {
		return nil, false, nil
	}
	var v any
	if err := json.Unmarshal(raw[0], &v); err != nil {
		return nil, false, fmt.Errorf("decode variable %q: %w", name, err)
	}
	return v, true, nil
}

// markQueuesReady records a worker's poll on the deployments of the polled
// queues (Prefect's mark_deployments_ready by work queue ids).
func (r *repo) markQueuesReady(ctx context.Context, queueIDs []uuid.UUID) error {
	if len(queueIDs) == 0 {
		return nil
	}
	var ids []uuid.UUID
	err := r.db.NewSelect().Table("deployment").Column("id").Where("work_queue_id IN (?)", bun.In(queueIDs)).Scan(ctx, &ids)
	if err != nil {
		return fmt.Errorf("read deployments of polled queues: %w", err)
	}
	return r.markReady(ctx, ids)
}

// flowLabels reads a flow's labels ({} for a flow without, or none).
func (r *repo) flowLabels(ctx context.Context, flowID uuid.UUID) (map[string]any, error) {
	var rows []struct {
		Labels map[string]any `bun:"labels"`
	}
	if err := r.db.Read.NewSelect().Table("flow").Column("labels").Where("id = ?", flowID).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read labels of flow %s: %w", flowID, err)
	}
	out := map[string]any{}
	if len(rows) > 0 {
		for k, v := range rows[0].Labels {
			out[k] = v
		}
	}
	return out, nil
}
