package logs

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
)

// Reader gives other modules the logs of a flow run (the runs module's
// CSV download and the clean-up after its bulk delete) without their
// knowing the log table.
type Reader struct {
	db *db.DB
}

// NewReader is provided by Module; exported so a module's tests can build one.
func NewReader(d *db.DB) *Reader { return &Reader{db: d} }

// FlowRunPage reads one page of a flow run's logs, oldest first.
func (r *Reader) FlowRunPage(ctx context.Context, flowRunID uuid.UUID, limit, offset int) ([]Log, error) {
	logs := []Log{}
	q := r.db.Read.NewSelect().Model(&logs).Where("log.flow_run_id = ?", flowRunID)
	if err := db.Page(ctx, q, "flow run logs", "log.timestamp ASC, log.id ASC", limit, offset); err != nil {
		return nil, err
	}
	return logs, nil
}

// DeleteForFlowRuns deletes the logs of the given flow runs.
func (r *Reader) DeleteForFlowRuns(ctx context.Context, flowRunIDs []uuid.UUID) error {
	if len(flowRunIDs) == 0 {
		return nil
	}
	if _, err := r.db.NewDelete().Model((*Log)(nil)).Where("flow_run_id IN (?)", bun.In(flowRunIDs)).Exec(ctx); err != nil {
		return fmt.Errorf("delete flow run logs: %w", db.Translate(err))
	}
	return nil
}
