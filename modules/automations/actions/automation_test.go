package actions

import (
	"net/http"
	"testing"

	"github.com/prefect-server/prefect-server/modules/automations"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// TestPauseAndResumeAutomation: the automation actions go through the
// automations module's own API.
func TestPauseAndResumeAutomation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarnessWith(t, d, automations.Module)
		var a struct {
			ID      string `json:"id"`
			Enabled bool   `json:"enabled"`
		}
		h.app.JSON(http.MethodPost, "/api/automations/", map[string]any{"name": "target",
			"trigger": map[string]any{"type": "event", "expect": []string{"x"}, "posture": "Reactive", "threshold": 1},
			"actions": []any{map[string]any{"type": "do-nothing"}}}, http.StatusCreated, &a)
		outcome := h.run(triggered(map[string]any{"type": "pause-automation", "automation_id": a.ID}, nil))
		mustExecute(t, outcome)
		if !hasRelated(outcome, "prefect.automation."+a.ID, "target") {
			t.Fatalf("related = %v", outcome.Related)
		}
		h.app.JSON(http.MethodGet, "/api/automations/"+a.ID, nil, http.StatusOK, &a)
		if a.Enabled {
			t.Fatal("pause-automation left the automation enabled")
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "resume-automation", "automation_id": a.ID}, nil)))
		h.app.JSON(http.MethodGet, "/api/automations/"+a.ID, nil, http.StatusOK, &a)
		if !a.Enabled {
			t.Fatal("resume-automation left the automation disabled")
		}
	})
}
