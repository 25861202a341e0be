package runs_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

type storedEvent struct {
	Event    string              `json:"event"`
	ID       string              `json:"id"`
	Follows  *string             `json:"follows"`
	Resource map[string]string   `json:"resource"`
	Related  []map[string]string `json:"related"`
	Payload  map[string]any      `json:"payload"`
}

// waitForEvents polls /events/filter until n flow-run events are stored.
func waitForEvents(t *testing.T, app *platformtest.App, runID string, n int) []storedEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var page struct{ Events []storedEvent }
		app.JSON(http.MethodPost, "/api/events/filter", map[string]any{
			"filter": map[string]any{"resource": map[string]any{"id": []string{"prefect.flow-run." + runID}},
				"order": "ASC"}}, http.StatusOK, &page)
		if len(page.Events) >= n {
			return page.Events
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d flow run events after 10s, want %d: %+v", len(page.Events), n, page.Events)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFlowRunStateEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		deploymentID := uuid.New()
		contributed := func() runs.RelatedResources {
			return func(_ context.Context, _ bun.IDB, run runs.RelatedRunRef) ([]events.RelatedObject, error) {
				return []events.RelatedObject{{Kind: "deployment", ID: deploymentID, Name: "dep", Tags: []string{"dt"}}}, nil
			}
		}
		app := platformtest.New(t, d, flows.Module, events.Module, runs.Module,
			fx.Provide(runs.AsRelatedResources(contributed)), runService(t, "event_persister"))
		var f struct{ ID string }
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "evf", "tags": []string{"ft"}}, http.StatusCreated, &f)
		var r run
		app.JSON(http.MethodPost, "/api/flow_runs/", map[string]any{"flow_id": f.ID, "name": "my-run", "tags": []string{"rt"},
			"state": map[string]any{"type": "SCHEDULED"}}, http.StatusCreated, &r)
		app.JSON(http.MethodPost, "/api/flow_runs/"+r.ID+"/set_state",
			map[string]any{"state": map[string]any{"type": "PENDING", "message": "hi"}}, http.StatusCreated, nil)

		got := waitForEvents(t, app, r.ID, 2)
		first, second := got[0], got[1]
		if first.Event != "prefect.flow-run.Scheduled" || second.Event != "prefect.flow-run.Pending" {
			t.Fatalf("events %s, %s", first.Event, second.Event)
		}
		if first.Follows != nil || second.Follows == nil || *second.Follows != first.ID {
			t.Errorf("follows: first %v, second %v (first id %s)", first.Follows, second.Follows, first.ID)
		}
		res := second.Resource
		if res["prefect.resource.name"] != "my-run" || res["prefect.state-message"] != "hi" ||
			res["prefect.state-type"] != "PENDING" || res["prefect.run-count"] != "0" {
			t.Errorf("resource %v", res)
		}
		wantRelated := []string{"prefect.flow." + f.ID, "prefect.deployment." + deploymentID.String(),
			"prefect.tag.dt", "prefect.tag.ft", "prefect.tag.rt"}
		if len(second.Related) != len(wantRelated) {
			t.Fatalf("related %v, want %v", second.Related, wantRelated)
		}
		for i, want := range wantRelated {
			if second.Related[i]["prefect.resource.id"] != want {
				t.Errorf("related[%d] = %v, want %s", i, second.Related[i], want)
			}
		}
		intended, _ := second.Payload["intended"].(map[string]any)
		if intended["from"] != "SCHEDULED" || intended["to"] != "PENDING" || first.Payload["initial_state"] != nil {
			t.Errorf("payloads %v / %v", first.Payload, second.Payload)
		}
	})
}

func TestUnnamedRunsGetASlugName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, events.Module, runs.Module)
		seen := map[string]bool{}
		for range 5 {
			r := newFlowRun(t, app, map[string]any{})
			if !slugName.MatchString(r.Name) {
				t.Fatalf("run name %q is not an adjective-animal slug", r.Name)
			}
			seen[r.Name] = true
		}
		if len(seen) < 2 {
			t.Errorf("5 runs share names: %v", seen)
		}
	})
}

var slugName = regexp.MustCompile(`^[a-z]+-[a-z]+$`)
