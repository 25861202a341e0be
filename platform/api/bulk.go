package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
)

// BulkOperationLimit is Prefect's BULK_OPERATION_LIMIT.
const BulkOperationLimit = 50

// BulkDelete serves Prefect's POST /<things>/bulk_delete: the objects
// matching the filter under key (at most limit, 1 to 50, default 50) are
// deleted and their ids answered as {"deleted": [...]}. match lists the ids
// the filter selects; del deletes them and returns those it deleted.
func BulkDelete(key string, match func(ctx context.Context, f Filters, limit int) ([]uuid.UUID, error),
	del func(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error)) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var own json.RawMessage
		limit := BulkOperationLimit
		if err := DecodeParams(r, Params{key: &own, "limit": &limit}); err != nil {
			return err
		}
		if limit < 1 || limit > BulkOperationLimit {
			return Invalid("less_than_equal", "Input should be between 1 and 50", limit, "limit")
		}
		ids, err := match(r.Context(), Filters{key: own}, limit)
		if err != nil {
			return err
		}
		deleted, err := del(r.Context(), ids)
		if err != nil {
			return err
		}
		if deleted == nil {
			deleted = []uuid.UUID{}
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"deleted": deleted})
	}
}
