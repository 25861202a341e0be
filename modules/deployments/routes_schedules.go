package deployments

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
)

// Prefect's schedule routes say "Deployment not found." with a period.
const (
	scheduleDeploymentNotFound = "Deployment not found."
	scheduleNotFound           = "Schedule not found."
)

// scheduleBatch is the JSON list body of POST /deployments/{id}/schedules.
type scheduleBatch []scheduleCreate

func (b *scheduleBatch) Validate() []api.FieldError {
	var errs []api.FieldError
	for i := range *b {
		errs = append(errs, (*b)[i].validate(i)...)
	}
	return errs
}

func (h *handlers) readSchedules(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", scheduleDeploymentNotFound)
	if err != nil {
		return err
	}
	d, err := h.repo.byID(r.Context(), id)
	if isNotFound(err) {
		return api.NotFound(scheduleDeploymentNotFound).Wrap(err)
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, d.Schedules)
}

func (h *handlers) createSchedules(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", scheduleDeploymentNotFound)
	if err != nil {
		return err
	}
	var body scheduleBatch
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	var created []*DeploymentSchedule
	err = h.repo.db.Tx(r.Context(), func(ctx context.Context, tx bun.Tx) error {
		if err := deploymentExists(ctx, tx, id); err != nil {
			return err
		}
		created, err = insertSchedules(ctx, tx, id, body)
		if errors.Is(err, db.ErrAlreadyExists) {
			return api.Conflict("Schedule slugs must be unique within a deployment.").Wrap(err)
		}
		return err
	})
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusCreated, created)
}

func deploymentExists(ctx context.Context, tx bun.IDB, id uuid.UUID) error {
	n, err := tx.NewSelect().Table("deployment").Where("id = ?", id).Count(ctx)
	if err != nil {
		return fmt.Errorf("read deployment %s: %w", id, err)
	}
	if n == 0 {
		return api.NotFound(scheduleDeploymentNotFound)
	}
	return nil
}

// scheduleIDs reads the deployment and schedule ids of a schedule route.
func scheduleIDs(r *http.Request) (uuid.UUID, uuid.UUID, error) {
	id, err := api.PathUUID(r, "id", scheduleDeploymentNotFound)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	sid, err := api.PathUUID(r, "schedule_id", scheduleNotFound)
	return id, sid, err
}

// updateSchedule serves PATCH /deployments/{id}/schedules/{schedule_id}:
// the fields sent (parameters always, as Prefect's default {} is not
// None), then the deployment's future auto-scheduled runs are deleted.
func (h *handlers) updateSchedule(w http.ResponseWriter, r *http.Request) error {
	id, sid, err := scheduleIDs(r)
	if err != nil {
		return err
	}
	var b scheduleUpdate
	if err := api.Decode(r, &b); err != nil {
		return err
	}
	row, set := b.row()
	err = h.repo.db.Tx(r.Context(), func(ctx context.Context, tx bun.Tx) error {
		if err := deploymentExists(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model(row).Column(set...).Where("id = ? AND deployment_id = ?", sid, id).Exec(ctx)
		if err != nil {
			return fmt.Errorf("update schedule %s: %w", sid, db.Translate(err))
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return api.NotFound(scheduleNotFound)
		}
		return deleteScheduledRuns(ctx, tx, id, true, true)
	})
	if errors.Is(err, db.ErrAlreadyExists) {
		return api.Conflict("Schedule slugs must be unique within a deployment.").Wrap(err)
	}
	if err != nil {
		return err
	}
	return api.NoContent(w)
}

// deleteSchedule serves DELETE /deployments/{id}/schedules/{schedule_id};
// the deployment's auto-scheduled runs that never ran go with it.
func (h *handlers) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	id, sid, err := scheduleIDs(r)
	if err != nil {
		return err
	}
	err = h.repo.db.Tx(r.Context(), func(ctx context.Context, tx bun.Tx) error {
		if err := deploymentExists(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*DeploymentSchedule)(nil)).Where("id = ? AND deployment_id = ?", sid, id).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete schedule %s: %w", sid, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return api.NotFound(scheduleNotFound)
		}
		return deleteScheduledRuns(ctx, tx, id, true, false)
	})
	if err != nil {
		return err
	}
	return api.NoContent(w)
}
