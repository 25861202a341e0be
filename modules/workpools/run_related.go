package workpools

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/db"
)

// relatedToRuns names a flow run's work queue and its pool in the run's
// state events, as Prefect's flow-run events do: automations match on them
// and infer the pool or queue to pause from them.
func relatedToRuns(s *store) runs.RelatedResources {
	return func(ctx context.Context, tx bun.IDB, run runs.RelatedRunRef) ([]events.RelatedObject, error) {
		if run.WorkQueueID == nil {
			return nil, nil
		}
		var rows []WorkQueue
		err := s.queuesWithPool(tx).ColumnExpr("work_pool.type AS pool_type").
			Where("work_queue.id = ?", *run.WorkQueueID).Limit(1).Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("read work queue of flow run event: %w", db.Translate(err))
		}
		if len(rows) == 0 {
			return nil, nil
		}
		q := rows[0]
		return []events.RelatedObject{
			{Kind: "work-queue", ID: q.ID, Name: q.Name},
			{Kind: "work-pool", ID: q.WorkPoolID, Name: q.PoolName, Extra: events.L("prefect.work-pool.type", q.PoolType)},
		}, nil
	}
}
