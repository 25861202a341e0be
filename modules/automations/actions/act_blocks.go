package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/events"
)

// blockDocument is what the block actions read of a block document.
type blockDocument struct {
	ID        uuid.UUID       `json:"id"`
	Name      *string         `json:"name"`
	Data      json.RawMessage `json:"data"`
	BlockType *struct {
		Slug string `json:"slug"`
	} `json:"block_type"`
}

// readBlock reads the action's block document (with its secrets) through
// the API. A missing one fails the action with Prefect's reason for the
// status: the server has no blocks module yet, so every read answers 404.
func (x *executor) readBlock(ctx context.Context, inv *invocation) (*blockDocument, error) {
	if inv.spec.BlockDocumentID == nil {
		return nil, failed("block_document_id is required")
	}
	path := "/block_documents/" + inv.spec.BlockDocumentID.String() + "?include_secrets=true"
	r, err := x.api.do(ctx, inv.headers(), http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 {
		return nil, failed("%s", inv.reasonFromResponse(r))
	}
	var doc blockDocument
	if err := json.Unmarshal(r.Body, &doc); err != nil || doc.BlockType == nil {
		return nil, failed("The %s block was invalid: ValueError('Unable to determine block schema for provided block document')", blockNoun(inv))
	}
	return &doc, nil
}

func blockNoun(inv *invocation) string {
	if inv.spec.Type == "call-webhook" {
		return "webhook"
	}
	return "notification"
}

// relateBlock names the block and its type in the action's events.
func (inv *invocation) relateBlock(doc *blockDocument) {
	name := ""
	if doc.Name != nil {
		name = *doc.Name
	}
	inv.related = append(inv.related,
		events.L(events.LabelID, "prefect.block-document."+doc.ID.String(), events.LabelRole, "block", events.LabelName, name),
		events.L(events.LabelID, "prefect.block-type."+doc.BlockType.Slug, events.LabelRole, "block-type"))
}

// callWebhook calls a Webhook block with the action's payload rendered
// against the triggering event (Prefect's CallWebhook).
func callWebhook(ctx context.Context, x *executor, inv *invocation) error {
	doc, err := x.readBlock(ctx, inv)
	if err != nil {
		return err
	}
	if doc.BlockType.Slug != "webhook" {
		return failed("The referenced block was not a webhook block")
	}
	var hook webhook
	if err := hook.decode(doc.Data); err != nil {
		return failed("The webhook block was invalid: %s", err)
	}
	inv.relateBlock(doc)
	payload, err := x.renderText(ctx, inv, webhookPayload(inv.spec.Payload))
	if err != nil {
		return err
	}
	res, err := hook.call(ctx, payload)
	if err != nil {
		return failed("Webhook call failed: %s", err)
	}
	inv.details["status_code"] = res.status
	inv.details["response_body"] = truncatedTo(1000, res.body)
	inv.details["response_headers"] = res.headers
	return nil
}

// webhookPayload is the action's payload template: a string, or an object
// written as indented JSON (Prefect's older payloads).
func webhookPayload(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &s) == nil {
		return s
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(out)
}

// sendNotification fails: notification blocks (Slack, Teams, email, ...)
// send through their Python classes (Apprise), which this server does not
// run. A missing block fails first, exactly as in Prefect.
func sendNotification(ctx context.Context, x *executor, inv *invocation) error {
	doc, err := x.readBlock(ctx, inv)
	if err != nil {
		return err
	}
	return failed("The notification block was invalid: NotImplementedError(%s)",
		quotePy(fmt.Sprintf("this server cannot send notifications with %s blocks", doc.BlockType.Slug)))
}

// renderText renders one template of the action with Prefect's template
// context; a failure fails the action and is kept in its details.
func (x *executor) renderText(ctx context.Context, inv *invocation, template string) (string, error) {
	vars, err := x.templateContext(ctx, inv, []string{template})
	if err != nil {
		return "", err
	}
	out, err := renderTemplate(template, vars)
	if err != nil {
		inv.details["template_error"] = "Failed to render template due to the following error: " + err.Error()
		inv.details["template_source"] = template
		return "", failed("Template rendering failed: %s", err)
	}
	return out, nil
}

// truncatedTo is Prefect's truncated_to: long text keeps its two ends.
func truncatedTo(length int, value string) string {
	r := []rune(value)
	if len(r) <= length {
		return value
	}
	half := length / 2
	omitted := len(r) - 2*half
	proposed := fmt.Sprintf("%s...%d additional characters...%s", string(r[:half]), omitted, string(r[len(r)-half:]))
	if len([]rune(proposed)) < len(r) {
		return proposed
	}
	return value
}
