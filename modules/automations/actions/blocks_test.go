package actions

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
)

// blockDocumentsRoute serves block documents as Prefect's
// GET /block_documents/{id} does, standing in for the blocks module this
// server does not have yet.
func blockDocumentsRoute(docs map[string]map[string]any) fx.Option {
	return fx.Provide(platform.AsRoutes(func() api.Routes {
		return api.Routes{Module: "blocks-fake", Routes: []api.Route{{Method: http.MethodGet, Path: "/block_documents/{id}",
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				doc, ok := docs[api.PathVar(r, "id")]
				if !ok {
					return api.NotFound("Block document not found")
				}
				return api.WriteJSON(w, http.StatusOK, doc)
			}}}}
	}))
}

func TestCallWebhookSendsTheRenderedPayload(t *testing.T) {
	type received struct {
		method, body, auth string
	}
	got := make(chan received, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, string(body), r.Header.Get("X-Token")}
		w.Header().Set("X-Reply", "yes")
		w.Header().Set("Authorization", "secret")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(strings.Repeat("a", 1500)))
	}))
	defer hook.Close()
	webhookID, privateID, slackID := uuid.NewString(), uuid.NewString(), uuid.NewString()
	docs := map[string]map[string]any{
		webhookID: {"id": webhookID, "name": "my-hook", "block_type": map[string]any{"slug": "webhook"},
			"data": map[string]any{"method": "PUT", "url": hook.URL, "headers": map[string]any{"X-Token": "t0k"}}},
		privateID: {"id": privateID, "name": "no-private", "block_type": map[string]any{"slug": "webhook"},
			"data": map[string]any{"url": hook.URL, "allow_private_urls": false}},
		slackID: {"id": slackID, "name": "team", "block_type": map[string]any{"slug": "slack-webhook"}, "data": map[string]any{}},
	}
	h := newHarnessWith(t, config.SQLite, blockDocumentsRoute(docs))
	f := h.fixtures()

	outcome := h.run(triggered(map[string]any{"type": "call-webhook", "block_document_id": webhookID,
		"payload": `{"run": "{{ flow_run.name }}", "event": "{{ event.event }}"}`}, flowRunEvent(f, "Failed")))
	p := mustExecute(t, outcome)
	req := <-got
	if req.method != http.MethodPut || req.auth != "t0k" || req.body != `{"run": "brave-run", "event": "prefect.flow-run.Failed"}` {
		t.Fatalf("webhook received %+v", req)
	}
	headers, _ := p["response_headers"].(map[string]any)
	if p["status_code"] != float64(202) || headers["x-reply"] != "yes" || headers["authorization"] != nil ||
		!strings.Contains(p["response_body"].(string), "...500 additional characters...") {
		t.Fatalf("executed payload = %v", p)
	}
	if !hasRelated(outcome, "prefect.block-document."+webhookID, "block") || !hasRelated(outcome, "prefect.block-type.webhook", "block-type") {
		t.Fatalf("related = %v", outcome.Related)
	}

	p = payload(t, h.run(triggered(map[string]any{"type": "call-webhook", "block_document_id": privateID}, nil)))
	if r, _ := p["reason"].(string); !strings.HasPrefix(r, "Webhook call failed: ValueError(") || !strings.Contains(r, "private address 127.0.0.1") {
		t.Fatalf("a private URL refused by its block: %v", p)
	}
	mustFail(t, h.run(triggered(map[string]any{"type": "call-webhook", "block_document_id": slackID}, nil)),
		"The referenced block was not a webhook block")
	mustFail(t, h.run(triggered(map[string]any{"type": "send-notification", "block_document_id": slackID, "body": "x"}, nil)),
		"The notification block was invalid: NotImplementedError('this server cannot send notifications with slack-webhook blocks')")
	p = payload(t, h.run(triggered(map[string]any{"type": "call-webhook", "block_document_id": webhookID, "payload": "{{ flow_run.nope.deeper }}"},
		flowRunEvent(f, "Failed"))))
	if r, _ := p["reason"].(string); !strings.HasPrefix(r, "Template rendering failed: ") || p["template_source"] != "{{ flow_run.nope.deeper }}" {
		t.Fatalf("a template that cannot render: %v", p)
	}
	select {
	case req := <-got:
		t.Fatalf("the webhook was called by a failed action: %+v", req)
	default:
	}
}

func TestWebhookPayloadFromAnObject(t *testing.T) {
	if got := webhookPayload(json.RawMessage(`{"message": "hi"}`)); got != "{\n  \"message\": \"hi\"\n}" {
		t.Fatalf("payload = %q", got)
	}
	if got := webhookPayload(nil); got != "" {
		t.Fatalf("no payload = %q", got)
	}
}
