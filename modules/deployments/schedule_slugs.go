package deployments

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// scheduleChange is what a PATCH does to a deployment's schedules, in the
// update's transaction.
type scheduleChange interface {
	apply(ctx context.Context, tx bun.IDB, deploymentID uuid.UUID) error
}

// replaceSchedules replaces all the schedules (a deployment whose schedules
// do not all have slugs).
type replaceSchedules []scheduleCreate

func (s replaceSchedules) apply(ctx context.Context, tx bun.IDB, id uuid.UUID) error {
	if _, err := tx.NewDelete().Model((*DeploymentSchedule)(nil)).Where("deployment_id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("delete schedules: %w", err)
	}
	_, err := insertSchedules(ctx, tx, id, s)
	return err
}

// slugPlan updates the schedules of a deployment whose schedules all have
// slugs, as Prefect's update_deployment: a sent schedule patches the one
// with its slug (or, with replaces, renames that one), others are created,
// and none is deleted.
type slugPlan struct {
	patch, create []scheduleCreate
}

func unprocessable(detail string) *api.Error {
	return &api.Error{Status: http.StatusUnprocessableEntity, Detail: detail}
}

// planSchedules decides how sent schedules apply to existing ones: nil when
// the update does not touch schedules.
func planSchedules(existing []*DeploymentSchedule, sent []scheduleCreate) (scheduleChange, error) {
	allSentSlugged := true
	for _, s := range sent {
		allSentSlugged = allSentSlugged && s.Slug != nil
	}
	allExistingSlugged := len(existing) > 0
	current := map[string]bool{}
	for _, e := range existing {
		allExistingSlugged = allExistingSlugged && e.Slug != nil
		if e.Slug != nil {
			current[*e.Slug] = true
		}
	}
	switch {
	case allSentSlugged && allExistingSlugged:
		return newSlugPlan(current, sent)
	case allExistingSlugged:
		return nil, unprocessable("Please provide a slug for each schedule in your request to ensure schedules are updated correctly.")
	case sent == nil:
		return nil, nil
	}
	out := replaceSchedules{}
	for _, s := range sent {
		if s.Schedule != nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func newSlugPlan(current map[string]bool, sent []scheduleCreate) (*slugPlan, error) {
	replaced := map[string]bool{}
	for _, s := range sent {
		if s.Replaces == nil {
			continue
		}
		if replaced[*s.Replaces] {
			return nil, unprocessable("Multiple schedules have 'replaces' targeting the same slug: " + *s.Replaces)
		}
		replaced[*s.Replaces] = true
	}
	for _, s := range sent {
		if s.Replaces != nil && current[*s.Slug] && !replaced[*s.Slug] {
			return nil, unprocessable(fmt.Sprintf("Cannot rename schedule from '%s' to '%s': a schedule with slug '%s' already exists.",
				*s.Replaces, *s.Slug, *s.Slug))
		}
	}
	plan := &slugPlan{}
	for _, s := range sent {
		target := *s.Slug
		if s.Replaces != nil {
			target = *s.Replaces
		}
		switch {
		case current[target]:
			plan.patch = append(plan.patch, s)
		case s.Schedule != nil:
			plan.create = append(plan.create, s) // also a replaces naming no schedule
		default:
			return nil, unprocessable("Unable to create new deployment schedules without a schedule configuration.")
		}
	}
	return plan, nil
}

// apply renames first (the old slugs cleared, so that the unique slug index
// never sees two), then patches, then creates.
func (p *slugPlan) apply(ctx context.Context, tx bun.IDB, id uuid.UUID) error {
	renamed := map[string]uuid.UUID{}
	var oldSlugs []string
	for _, s := range p.patch {
		if s.Replaces == nil {
			continue
		}
		var rowID uuid.UUID
		err := tx.NewSelect().Model((*DeploymentSchedule)(nil)).Column("id").Where("deployment_id = ? AND slug = ?", id, *s.Replaces).Scan(ctx, &rowID)
		if isNotFound(db.Translate(err)) {
			return api.NotFound(fmt.Sprintf("Schedule with slug '%s' no longer exists.", *s.Replaces))
		}
		if err != nil {
			return fmt.Errorf("read schedule %q: %w", *s.Replaces, db.Translate(err))
		}
		renamed[*s.Replaces], oldSlugs = rowID, append(oldSlugs, *s.Replaces)
	}
	if len(oldSlugs) > 0 {
		_, err := tx.NewUpdate().Model((*DeploymentSchedule)(nil)).Set("slug = NULL").Where("deployment_id = ? AND slug IN (?)", id, bun.In(oldSlugs)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("clear renamed slugs: %w", db.Translate(err))
		}
	}
	for _, s := range p.patch {
		row, set := scheduleUpdate(s).row()
		q := tx.NewUpdate().Model(row).Column(set...).Where("deployment_id = ?", id)
		if s.Replaces != nil {
			q = q.Where("id = ?", renamed[*s.Replaces])
		} else {
			q = q.Where("slug = ?", *s.Slug)
		}
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("update schedule %q: %w", *s.Slug, db.Translate(err))
		}
	}
	_, err := insertSchedules(ctx, tx, id, p.create)
	return err
}

// row is the schedule row and columns a patch sets, as Prefect's
// update_deployment_schedule: the fields sent (not null), and parameters
// always ({} when not sent).
func (s scheduleUpdate) row() (*DeploymentSchedule, columns) {
	row := &DeploymentSchedule{Updated: types.Now(), Parameters: orEmpty(s.Parameters), MaxScheduledRuns: s.MaxScheduledRuns, Slug: s.Slug}
	set := columns{"updated", "parameters"}
	if s.Active != nil {
		row.Active = *s.Active
		set.add(true, "active")
	}
	if s.Schedule != nil {
		row.Schedule = *s.Schedule
		set.add(true, "schedule")
	}
	set.add(s.MaxScheduledRuns != nil, "max_scheduled_runs")
	set.add(s.Slug != nil, "slug")
	return row, set
}
