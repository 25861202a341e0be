package logs

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
)

// batchSize is Prefect's LOG_BATCH_SIZE: the most rows in one INSERT.
const batchSize = 32_767 / 9

// repo reads and writes logs.
type repo struct {
	db *db.DB
}

// create inserts the logs in one transaction, batchSize rows per INSERT, so
// that a request's logs are stored all or none.
func (r *repo) create(ctx context.Context, logs []Log) error {
	if len(logs) == 0 {
		return nil
	}
	return r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for start := 0; start < len(logs); start += batchSize {
			batch := logs[start:min(start+batchSize, len(logs))]
			if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
				return fmt.Errorf("insert logs: %w", db.Translate(err))
			}
		}
		return nil
	})
}

// list reads one page of the logs matching f.
func (r *repo) list(ctx context.Context, f *logFilter, order string, limit, offset int) ([]Log, error) {
	logs := []Log{}
	q := f.where().Apply(r.db.Read.NewSelect().Model(&logs))
	if err := db.Page(ctx, q, "logs", order, limit, offset); err != nil {
		return nil, err
	}
	return logs, nil
}
