package actions

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

type flowRunView struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Parameters     map[string]any `json:"parameters"`
	DeploymentID   string         `json:"deployment_id"`
	IdempotencyKey string         `json:"idempotency_key"`
	JobVariables   map[string]any `json:"job_variables"`
	State          struct {
		Type    string `json:"type"`
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"state"`
}

func (h *harness) flowRun(id string) flowRunView {
	var fr flowRunView
	h.app.JSON(http.MethodGet, "/api/flow_runs/"+id, nil, http.StatusOK, &fr)
	return fr
}

func (h *harness) deploymentRuns(deploymentID string) []flowRunView {
	var runs []flowRunView
	h.app.JSON(http.MethodPost, "/api/flow_runs/filter", map[string]any{
		"deployments": map[string]any{"id": map[string]any{"any_": []string{deploymentID}}}}, http.StatusOK, &runs)
	return runs
}

func TestRunDeploymentRendersParametersAgainstTheEvent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarness(t, d)
		f := h.fixtures()
		h.app.JSON(http.MethodPost, "/api/variables/", map[string]any{"name": "region", "value": "eu"}, http.StatusCreated, nil)
		ta := triggered(map[string]any{"type": "run-deployment", "source": "selected", "deployment_id": f.deploymentID,
			"parameters": map[string]any{
				"who":      "{{ flow_run.name }}",
				"n":        "{{ event.payload.count }}",
				"greeting": "Hello {{ flow.name }} from {{ event.resource.id }}",
				"state":    "{{ flow_run.state.name }}",
				"region":   map[string]any{"__prefect_kind": "workspace_variable", "variable_name": "region"},
				"raw":      map[string]any{"__prefect_kind": "json", "value": `{"a": [1, 2]}`},
			},
			"job_variables": map[string]any{"env": map[string]any{"X": "1"}}}, flowRunEvent(f, "Failed"))
		p := mustExecute(t, h.run(ta))
		if p["action_type"] != "run-deployment" || p["status_code"] != float64(201) || p["action_index"] != float64(0) {
			t.Fatalf("executed payload = %v", p)
		}
		runs := h.deploymentRuns(f.deploymentID)
		if len(runs) != 1 {
			t.Fatalf("%d runs of the deployment, want 1", len(runs))
		}
		got := runs[0]
		want := map[string]any{"who": "brave-run", "n": float64(7), "greeting": "Hello etl from prefect.flow-run." + f.flowRunID,
			"state": "Failed", "region": "eu", "raw": map[string]any{"a": []any{float64(1), float64(2)}}}
		for k, v := range want {
			if !jsonEqual(got.Parameters[k], v) {
				t.Fatalf("parameter %s = %#v, want %#v (all: %v)", k, got.Parameters[k], v, got.Parameters)
			}
		}
		if got.State.Type != "SCHEDULED" || got.JobVariables["env"] == nil || got.IdempotencyKey == "" {
			t.Fatalf("created run = %+v", got)
		}
		outcome := h.emitted.named("prefect.automation.action.executed")[0]
		if !hasRelated(outcome, "prefect.flow-run."+got.ID, "flow-run") || !hasRelated(outcome, "prefect.deployment."+f.deploymentID, "target") {
			t.Fatalf("executed related = %v", outcome.Related)
		}
	})
}

func TestRunDeploymentInfersTheDeploymentAndIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarness(t, d)
		f := h.fixtures()
		ev := flowRunEvent(f, "Failed")
		ta := triggered(map[string]any{"type": "run-deployment", "source": "inferred"}, ev)
		ta.Firing = []byte(`{"id": "` + uuid.NewString() + `"}`)
		mustExecute(t, h.run(ta))
		// The same firing's action delivered again does not run again.
		data, _ := jsonMarshal(message{ID: uuid.New(), TriggeredAction: ta})
		inv, _ := decodeInvocation(data)
		if err := h.x.execute(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
		if runs := h.deploymentRuns(f.deploymentID); len(runs) != 1 || runs[0].Parameters["who"] != "default" {
			t.Fatalf("runs = %+v, want one with the deployment's parameters", runs)
		}
		ev.Related = ev.Related[:1]
		mustFail(t, h.run(triggered(map[string]any{"type": "run-deployment", "source": "inferred"}, ev)), "No deployment could be inferred")
		mustFail(t, h.run(triggered(map[string]any{"type": "run-deployment", "source": "inferred"}, nil)), "No event to infer the deployment")
		missing := uuid.NewString()
		mustFail(t, h.run(triggered(map[string]any{"type": "run-deployment", "source": "selected", "deployment_id": missing}, nil)),
			"Unexpected status from 'run-deployment' action: 404")
	})
}

func TestDeploymentPauseAndResume(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarness(t, d)
		f := h.fixtures()
		paused := func() bool {
			var dep struct{ Paused bool }
			h.app.JSON(http.MethodGet, "/api/deployments/"+f.deploymentID, nil, http.StatusOK, &dep)
			return dep.Paused
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "pause-deployment", "source": "inferred"}, flowRunEvent(f, "Failed"))))
		if !paused() {
			t.Fatal("pause-deployment left the deployment running")
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "resume-deployment", "deployment_id": f.deploymentID}, nil)))
		if paused() {
			t.Fatal("resume-deployment left the deployment paused")
		}
	})
}

func TestFlowRunStateActions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarness(t, d)
		f := h.fixtures()
		ev := flowRunEvent(f, "Running")
		ta := triggered(map[string]any{"type": "change-flow-run-state", "state": "FAILED", "name": "Stuck"}, ev)
		mustExecute(t, h.run(ta))
		if fr := h.flowRun(f.flowRunID); fr.State.Type != "FAILED" || fr.State.Name != "Stuck" || fr.State.Message == "" {
			t.Fatalf("after change-flow-run-state: %+v", fr.State)
		}
		// A terminal run cannot be cancelled without force: the orchestration
		// rules refuse, and the action fails with their reason.
		p := payload(t, h.run(triggered(map[string]any{"type": "cancel-flow-run"}, ev)))
		if r, _ := p["reason"].(string); len(r) < len("Failed to set state: ") || r[:len("Failed to set state: ")] != "Failed to set state: " {
			t.Fatalf("cancel of a failed run: %v", p)
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "change-flow-run-state", "state": "RUNNING", "force": true}, ev)))
		mustExecute(t, h.run(triggered(map[string]any{"type": "cancel-flow-run"}, ev)))
		if fr := h.flowRun(f.flowRunID); fr.State.Type != "CANCELLING" {
			t.Fatalf("after cancel-flow-run: %+v", fr.State)
		}
		mustFail(t, h.run(triggered(map[string]any{"type": "cancel-flow-run"}, nil)), "No flow run could be inferred")
	})
}

func TestSuspendResumeAndDeleteFlowRun(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarness(t, d)
		f := h.fixtures()
		// The run of a deployment can be suspended; the flow run is found
		// from the trigger's labels, as for proactive triggers.
		var fr flowRunView
		h.app.JSON(http.MethodPost, "/api/deployments/"+f.deploymentID+"/create_flow_run", map[string]any{
			"state": map[string]any{"type": "RUNNING"}}, http.StatusCreated, &fr)
		ta := triggered(map[string]any{"type": "suspend-flow-run"}, nil)
		ta.TriggeringLabels = map[string]string{"prefect.resource.id": "prefect.flow-run." + fr.ID}
		mustExecute(t, h.run(ta))
		if got := h.flowRun(fr.ID); got.State.Type != "PAUSED" || got.State.Name != "Suspended" {
			t.Fatalf("after suspend-flow-run: %+v", got.State)
		}
		ta = triggered(map[string]any{"type": "resume-flow-run"}, nil)
		ta.TriggeringLabels = map[string]string{"prefect.resource.id": "prefect.flow-run." + fr.ID}
		mustExecute(t, h.run(ta))
		if got := h.flowRun(fr.ID); got.State.Type != "SCHEDULED" {
			t.Fatalf("after resume-flow-run: %+v", got.State)
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "delete-flow-run"}, flowRunEvent(f, "Failed"))))
		h.app.JSON(http.MethodGet, "/api/flow_runs/"+f.flowRunID, nil, http.StatusNotFound, nil)
		mustFail(t, h.run(triggered(map[string]any{"type": "delete-flow-run"}, flowRunEvent(f, "Failed"))),
			"Unexpected status from 'delete-flow-run' action: 404")
	})
}

func TestWorkQueueAndWorkPoolActions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarness(t, d)
		f := h.fixtures()
		ev := flowRunEvent(f, "Failed")
		var pool struct {
			IsPaused bool   `json:"is_paused"`
			Status   string `json:"status"`
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "pause-work-pool", "source": "inferred"}, ev)))
		h.app.JSON(http.MethodGet, "/api/work_pools/pool-a", nil, http.StatusOK, &pool)
		if !pool.IsPaused {
			t.Fatal("pause-work-pool left the pool running")
		}
		outcome := h.emitted.named("prefect.automation.action.executed")[0]
		if !hasRelated(outcome, "prefect.work-pool."+f.poolID, "target") {
			t.Fatalf("related = %v", outcome.Related)
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "resume-work-pool", "work_pool_id": f.poolID}, nil)))
		h.app.JSON(http.MethodGet, "/api/work_pools/pool-a", nil, http.StatusOK, &pool)
		if pool.IsPaused {
			t.Fatal("resume-work-pool left the pool paused")
		}
		missing := uuid.NewString()
		mustFail(t, h.run(triggered(map[string]any{"type": "pause-work-pool", "work_pool_id": missing}, nil)), "Work pool "+missing+" not found")

		var queue struct {
			IsPaused bool `json:"is_paused"`
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "pause-work-queue", "source": "inferred"}, ev)))
		h.app.JSON(http.MethodGet, "/api/work_queues/"+f.queueID, nil, http.StatusOK, &queue)
		if !queue.IsPaused {
			t.Fatal("pause-work-queue left the queue running")
		}
		mustExecute(t, h.run(triggered(map[string]any{"type": "resume-work-queue", "work_queue_id": f.queueID}, nil)))
		h.app.JSON(http.MethodGet, "/api/work_queues/"+f.queueID, nil, http.StatusOK, &queue)
		if queue.IsPaused {
			t.Fatal("resume-work-queue left the queue paused")
		}
	})
}

func TestActionsWithoutTheirObjectsFail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		h := newHarness(t, d)
		block := uuid.NewString()
		tests := []struct {
			give map[string]any
			want string
		}{
			{map[string]any{"type": "send-notification", "block_document_id": block, "body": "hi"}, "Unexpected status from 'send-notification' action: 404"},
			{map[string]any{"type": "call-webhook", "block_document_id": block}, "Unexpected status from 'call-webhook' action: 404"},
			{map[string]any{"type": "pause-automation", "automation_id": uuid.NewString()}, "Unexpected status from 'pause-automation' action: 404"},
			{map[string]any{"type": "resume-work-queue", "source": "inferred"}, "No event to infer the work queue"},
		}
		for _, tt := range tests {
			mustFail(t, h.run(triggered(tt.give, nil)), tt.want)
		}
		p := mustExecute(t, h.run(triggered(map[string]any{"type": "do-nothing"}, nil)))
		if p["action_type"] != "do-nothing" || p["invocation"] == "" {
			t.Fatalf("do-nothing payload = %v", p)
		}
	})
}

func TestActionEventsNameTheAutomationAndFollowTheTrigger(t *testing.T) {
	h := newHarness(t, config.SQLite)
	f := h.fixtures()
	ev := flowRunEvent(f, "Failed")
	ta := triggered(map[string]any{"type": "do-nothing"}, ev)
	h.run(ta)
	trig := h.emitted.named("prefect.automation.action.triggered")
	done := h.emitted.named("prefect.automation.action.executed")
	if len(trig) != 1 || len(done) != 1 {
		t.Fatalf("%d triggered and %d executed events", len(trig), len(done))
	}
	if trig[0].Follows == nil || *trig[0].Follows != ev.ID || done[0].Follows == nil || *done[0].Follows != trig[0].ID {
		t.Fatalf("follows: triggered %v, executed %v", trig[0].Follows, done[0].Follows)
	}
	if v, _ := trig[0].Resource.Get("prefect.posture"); v != "Reactive" || trig[0].Resource.ID()[:19] != "prefect.automation." {
		t.Fatalf("resource = %v", trig[0].Resource)
	}
	if !hasRelated(done[0], "prefect.event."+ev.ID.String(), "triggering-event") {
		t.Fatalf("related = %v", done[0].Related)
	}
}

func TestDispatchedActionsRunThroughTheBroker(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		checkDispatchRuns(t, newHarness(t, d))
	})
}

// TestDispatchedActionsRunThroughRedis: the same on the Redis broker, whose
// consumer group outlives the process.
func TestDispatchedActionsRunThroughRedis(t *testing.T) {
	rc := redistest.Client(t)
	if err := rc.Do(context.Background(), rc.B().Del().Key(Topic).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	cfg := platformtest.DefaultConfig(t, config.SQLite)
	cfg.Events.MessagingBroker, cfg.Redis.URL = config.KindRedis, os.Getenv(redistest.EnvURL)
	checkDispatchRuns(t, newHarnessConfig(t, cfg))
}

// checkDispatchRuns dispatches a pause-deployment and waits for the running
// executor to carry it out.
func checkDispatchRuns(t *testing.T, h *harness) {
	f := h.fixtures()
	h.x.ready.Expect()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.x.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := h.dispatcher.Dispatch(ctx, triggered(map[string]any{"type": "pause-deployment", "deployment_id": f.deploymentID}, nil)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.emitted.named("prefect.automation.action.executed")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dispatched action did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var dep struct{ Paused bool }
	h.app.JSON(http.MethodGet, "/api/deployments/"+f.deploymentID, nil, http.StatusOK, &dep)
	if !dep.Paused {
		t.Fatal("the dispatched pause-deployment did not pause")
	}
}

func TestRunDeploymentParameterFailuresAreWordedAsPrefects(t *testing.T) {
	h := newHarness(t, config.SQLite)
	f := h.fixtures()
	tests := []struct {
		give map[string]any
		want string
	}{
		{map[string]any{"x": "{{ flow_run.nope.deeper }}"}, "Unable to create flow run from deployment: InvalidJinja()"},
		{map[string]any{"v": map[string]any{"__prefect_kind": "workspace_variable", "variable_name": "nope"}},
			"Unable to create flow run from deployment: WorkspaceVariableNotFound()"},
		{map[string]any{"j": map[string]any{"__prefect_kind": "json", "value": "{not json"}},
			"Unable to create flow run from deployment: InvalidJSON()"},
	}
	for _, tt := range tests {
		ta := triggered(map[string]any{"type": "run-deployment", "deployment_id": f.deploymentID, "parameters": tt.give}, flowRunEvent(f, "Failed"))
		mustFail(t, h.run(ta), tt.want)
	}
	if runs := h.deploymentRuns(f.deploymentID); len(runs) != 0 {
		t.Fatalf("%d runs created by failed actions", len(runs))
	}
	// Item access on labels, and a message from the event's resource.
	ta := triggered(map[string]any{"type": "run-deployment", "deployment_id": f.deploymentID,
		"parameters": map[string]any{"msg": "{{ event.resource['prefect.state-message'] }}", "label": "{{ labels['prefect.resource.id'] }}"}},
		flowRunEvent(f, "Failed"))
	ta.TriggeringLabels = map[string]string{"prefect.resource.id": "prefect.flow-run." + f.flowRunID}
	mustExecute(t, h.run(ta))
	runs := h.deploymentRuns(f.deploymentID)
	if len(runs) != 1 || runs[0].Parameters["msg"] != "boom" || runs[0].Parameters["label"] != "prefect.flow-run."+f.flowRunID {
		t.Fatalf("runs = %+v", runs)
	}
}

// TestUnexpectedErrorsAreRetriedThenDropped: a resume-flow-run whose run is
// gone is an error Prefect does not expect (it raises), so the message is
// delivered again, a few times, and then dropped without events.
func TestUnexpectedErrorsAreRetriedThenDropped(t *testing.T) {
	h := newHarness(t, config.SQLite)
	ta := triggered(map[string]any{"type": "resume-flow-run"}, nil)
	ta.TriggeringLabels = map[string]string{"prefect.resource.id": "prefect.flow-run." + uuid.NewString()}
	data, _ := jsonMarshal(message{ID: uuid.New(), TriggeredAction: ta})
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		inv, err := decodeInvocation(data)
		if err != nil {
			t.Fatal(err)
		}
		err = h.x.execute(context.Background(), inv)
		if (err == nil) != (attempt == maxAttempts) {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
	}
	if n := len(h.emitted.named("prefect.automation.action.triggered")); n != 0 {
		t.Fatalf("%d events for an action that never finished", n)
	}
}
