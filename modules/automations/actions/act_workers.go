package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

// workPoolCommand pauses or resumes a work pool: the pool is read by id
// (the API names pools by name), then patched by name.
func workPoolCommand(description string, pause bool) act {
	return func(ctx context.Context, x *executor, inv *invocation) error {
		id, err := workPoolTarget.id(inv)
		if err != nil {
			return err
		}
		name, err := x.workPoolName(ctx, inv, id)
		if err != nil {
			return err
		}
		inv.target("work-pool", id, name)
		x.log.Info(description, zap.Stringer("work_pool_id", id), zap.Stringer("automation", inv.automation.ID))
		r, err := x.api.do(ctx, inv.headers(), http.MethodPatch, "/work_pools/"+url.PathEscape(name), map[string]any{"is_paused": pause})
		if err != nil {
			return err
		}
		return inv.commandResult(r)
	}
}

// workPoolName reads a pool's name by id through /work_pools/filter. As in
// Prefect, an error status is retried, and a missing pool fails the action.
func (x *executor) workPoolName(ctx context.Context, inv *invocation, id uuid.UUID) (string, error) {
	body := map[string]any{"work_pools": map[string]any{"id": map[string]any{"any_": []string{id.String()}}}}
	r, err := x.api.do(ctx, inv.headers(), http.MethodPost, "/work_pools/filter", body)
	if err != nil {
		return "", err
	}
	if r.Status >= 400 {
		return "", fmt.Errorf("read work pool %s: status %d: %s", id, r.Status, r.Body)
	}
	var pools []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(r.Body, &pools); err != nil {
		return "", fmt.Errorf("read work pool %s: %w", id, err)
	}
	if len(pools) == 0 {
		return "", failed("Work pool %s not found", id)
	}
	return pools[0].Name, nil
}
