package deployments

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/types"
)

// notReadyAfter is Prefect's
// PREFECT_SERVER_SERVICES_FOREMAN_DEPLOYMENT_LAST_POLLED_TIMEOUT_SECONDS.
type notReadyAfter time.Duration

func newNotReadyAfter(s config.Services) (notReadyAfter, error) {
	d, err := s.Duration("PREFECT_SERVER_SERVICES_FOREMAN_DEPLOYMENT_LAST_POLLED_TIMEOUT_SECONDS", 60*time.Second)
	return notReadyAfter(d), err
}

// foremanCheck is the deployments' part of the foreman (Prefect's
// _mark_deployments_as_not_ready): a READY deployment that neither its
// runner nor a worker on its queue polled within the timeout becomes
// NOT_READY, with a prefect.deployment.not-ready event.
func foremanCheck(r *repo, after notReadyAfter) workpools.ForemanCheck {
	return func(ctx context.Context) error {
		return r.markStale(ctx, types.From(time.Now().Add(-time.Duration(after))))
	}
}

// markStale marks NOT_READY the READY deployments last polled before
// threshold whose queue (if any was ever polled) was too. updated is left
// alone, as Prefect does, so the scheduler's recent-deployments pass does
// not pick them up.
func (r *repo) markStale(ctx context.Context, threshold types.DateTime) error {
	stale := r.db.NewSelect().TableExpr("deployment AS d").Column("d.id").
		Join("LEFT JOIN work_queue AS wq ON wq.id = d.work_queue_id").
		Where("d.status = ?", statusReady).Where("d.last_polled IS NOT NULL").Where("d.last_polled < ?", threshold).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("wq.last_polled IS NULL").WhereOr("wq.last_polled < ?", threshold)
		})
	var marked []*Deployment
	err := r.db.NewUpdate().Model(&marked).Set("status = ?", statusNotReady).
		Where("id IN (?)", stale).Where("status = ?", statusReady).Returning("*").Scan(ctx)
	if err != nil {
		return fmt.Errorf("mark unpolled deployments not ready: %w", err)
	}
	for _, d := range marked {
		r.events.notReady(ctx, r.db.Read, d)
	}
	return nil
}
