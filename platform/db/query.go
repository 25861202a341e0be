package db

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"
)

// Page scans one page of the already filtered q into its model: ORDER BY
// order, LIMIT, OFFSET. A limit of 0 reads no rows, as Prefect answers; bun
// would read Limit(0) as "no limit". what names the rows in errors.
func Page(ctx context.Context, q *bun.SelectQuery, what, order string, limit, offset int) error {
	if limit == 0 {
		q = q.Where("1 = 0")
	}
	if err := q.OrderExpr(order).Limit(int64(limit)).Offset(int64(offset)).Scan(ctx); err != nil {
		return fmt.Errorf("list %s: %w", what, Translate(err))
	}
	return nil
}

// Count counts the rows of the already filtered q.
func Count(ctx context.Context, q *bun.SelectQuery, what string) (int, error) {
	n, err := q.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", what, Translate(err))
	}
	return int(n), nil
}

// JSONList is a list as a JSON array for a JSON column, never null.
func JSONList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}
