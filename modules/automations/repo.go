package automations

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo reads and writes automations and their related resources.
type repo struct {
	db      *db.DB
	filters *filter.Registry
	// generation counts changes made through this process, so that the
	// triggers service reloads its automations at once after one.
	generation atomic.Uint64
}

func (r *repo) changed() { r.generation.Add(1) }

// create stores a new automation, its selected deployments and its owner.
func (r *repo) create(ctx context.Context, a *Automation, related []string, owner string) error {
	now := types.Now()
	a.Created, a.Updated = now, now
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(a).Exec(ctx); err != nil {
			return fmt.Errorf("insert automation: %w", db.Translate(err))
		}
		if err := relate(ctx, tx, a.ID, related, false); err != nil {
			return err
		}
		if owner != "" {
			return relate(ctx, tx, a.ID, []string{owner}, true)
		}
		return nil
	})
	r.changed()
	return err
}

// update replaces an automation's fields and its selected deployments;
// false if there is no such automation.
func (r *repo) update(ctx context.Context, a *Automation, related []string) (bool, error) {
	found := false
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model(a).
			Column("name", "description", "enabled", "tags", "trigger", "actions", "actions_on_trigger", "actions_on_resolve").
			Set("updated = ?", types.Now()).WherePK().Exec(ctx)
		if err != nil {
			return fmt.Errorf("update automation %s: %w", a.ID, db.Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		found = true
		if _, err := tx.NewDelete().Model((*relatedResource)(nil)).
			Where("automation_id = ?", a.ID).Where("resource_id LIKE 'prefect.deployment.%'").
			Where("automation_owned_by_resource = ?", false).Exec(ctx); err != nil {
			return fmt.Errorf("clear related deployments of automation %s: %w", a.ID, db.Translate(err))
		}
		return relate(ctx, tx, a.ID, related, false)
	})
	r.changed()
	return found, err
}

// setEnabled pauses or resumes an automation; false if there is none.
func (r *repo) setEnabled(ctx context.Context, id uuid.UUID, enabled bool) (bool, error) {
	res, err := r.db.NewUpdate().Model((*Automation)(nil)).Set("enabled = ?", enabled).Set("updated = ?", types.Now()).
		Where("id = ?", id).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("update automation %s: %w", id, db.Translate(err))
	}
	r.changed()
	n, err := res.RowsAffected()
	return n > 0, err
}

// relate records resource ids as related to an automation; being owned is
// never taken back by a later, unowned relation.
func relate(ctx context.Context, tx bun.IDB, automationID uuid.UUID, resourceIDs []string, owned bool) error {
	now := types.Now()
	for _, rid := range resourceIDs {
		rr := &relatedResource{ID: uuid.New(), Created: now, Updated: now, AutomationID: automationID, ResourceID: rid, OwnedBy: owned}
		_, err := tx.NewInsert().Model(rr).
			On("CONFLICT (automation_id, resource_id) DO UPDATE").
			Set("automation_owned_by_resource = arr.automation_owned_by_resource OR EXCLUDED.automation_owned_by_resource").
			Set("updated = EXCLUDED.updated").Exec(ctx)
		if err != nil {
			return fmt.Errorf("relate automation %s to %s: %w", automationID, rid, db.Translate(err))
		}
	}
	return nil
}

func (r *repo) read(ctx context.Context, id uuid.UUID) (*Automation, error) {
	var a Automation
	if err := r.db.Read.NewSelect().Model(&a).Where("automation.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read automation %s: %w", id, db.Translate(err))
	}
	return &a, nil
}

// delete removes automations (their buckets, firings and relations go with
// them) and returns the ones removed.
func (r *repo) delete(ctx context.Context, ids []uuid.UUID) ([]Automation, error) {
	gone := []Automation{}
	if len(ids) == 0 {
		return gone, nil
	}
	_, err := r.db.NewDelete().Model(&gone).Where("id IN (?)", bun.In(ids)).Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("delete automations: %w", db.Translate(err))
	}
	r.changed()
	return gone, nil
}

func (r *repo) list(ctx context.Context, f json.RawMessage, order string, limit, offset int) ([]Automation, error) {
	out := []Automation{}
	q, err := r.filters.Own(r.db.Read.NewSelect().Model(&out), "automations", f)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "automations", order, limit, offset); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *repo) count(ctx context.Context, f json.RawMessage) (int, error) {
	q, err := r.filters.Own(r.db.Read.NewSelect().Model((*Automation)(nil)), "automations", f)
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, "automations")
}

// relatedTo lists the automations related to a resource; ownedOnly keeps
// those it owns, createdBefore (if set) those created no later.
func (r *repo) relatedTo(ctx context.Context, resourceID string, ownedOnly bool, createdBefore *time.Time) ([]Automation, error) {
	out := []Automation{}
	q := r.db.Read.NewSelect().Model(&out).
		Join("JOIN automation_related_resource AS arr ON arr.automation_id = automation.id").
		Where("arr.resource_id = ?", resourceID)
	if ownedOnly {
		q = q.Where("arr.automation_owned_by_resource = ?", true)
	}
	if createdBefore != nil {
		q = q.Where("automation.created <= ?", types.From(*createdBefore))
	}
	if err := q.OrderExpr("automation.created, automation.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read automations related to %s: %w", resourceID, db.Translate(err))
	}
	return out, nil
}

// enabled reads every enabled automation, for the triggers service.
func (r *repo) enabled(ctx context.Context) ([]Automation, error) {
	out := []Automation{}
	if err := r.db.Read.NewSelect().Model(&out).Where("automation.enabled = ?", true).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read enabled automations: %w", db.Translate(err))
	}
	return out, nil
}
