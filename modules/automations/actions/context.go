package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/events"
)

// templateContext is what Prefect's JinjaTemplateAction renders templates
// with: the automation, the triggering event, its labels, the firing and,
// for the object names the templates use, the triggering event's objects
// read through the API (a name whose object is missing is None).
func (x *executor) templateContext(ctx context.Context, inv *invocation, templates []string) (map[string]any, error) {
	vars := map[string]any{
		"automation": withPyDateTimes(jsonValue(inv.msg.Automation)),
		"event":      withPyDateTimes(eventValue(inv.msg.TriggeringEvent)),
		"labels":     labelTree(inv.msg.TriggeringLabels),
		"firing":     withPyDateTimes(jsonValue(inv.msg.Firing)),
	}
	firings, evs := allFirings(vars["firing"])
	vars["firings"], vars["events"] = firings, evs
	if inv.event == nil || len(templates) == 0 {
		return vars, nil
	}
	for _, name := range namesIn(templates, append(orchestrationTypes, "variables")) {
		if name == "variables" {
			all, err := x.workspaceVariables(ctx, inv, nil)
			if err != nil {
				return nil, err
			}
			vars[name] = all
			continue
		}
		obj, err := x.eventObject(ctx, inv, "prefect."+strings.ReplaceAll(name, "_", "-"))
		if err != nil {
			return nil, err
		}
		vars[name] = withPyDateTimes(obj)
	}
	return vars, nil
}

// objectReads are the API reads of each kind of object (several are merged,
// as Prefect merges a work queue with its status).
var objectReads = map[string][]func(id uuid.UUID) (method, path string, body any){
	"prefect.deployment": {get("/deployments/")},
	"prefect.flow":       {get("/flows/")},
	"prefect.flow-run":   {get("/flow_runs/")},
	"prefect.task-run":   {get("/task_runs/")},
	"prefect.work-pool": {func(id uuid.UUID) (string, string, any) {
		return http.MethodPost, "/work_pools/filter", map[string]any{"work_pools": map[string]any{"id": map[string]any{"any_": []string{id.String()}}}}
	}},
	"prefect.work-queue": {get("/work_queues/"), func(id uuid.UUID) (string, string, any) {
		return http.MethodGet, "/work_queues/" + id.String() + "/status", nil
	}},
	"prefect.concurrency-limit": {get("/v2/concurrency_limits/")},
}

func get(prefix string) func(uuid.UUID) (string, string, any) {
	return func(id uuid.UUID) (string, string, any) { return http.MethodGet, prefix + id.String(), nil }
}

// eventObject reads the triggering event's first resource of kind through
// the API, or nil when there is none or it cannot be read.
func (x *executor) eventObject(ctx context.Context, inv *invocation, kind string) (any, error) {
	var resource events.Labels
	for _, r := range inv.involvedResources() {
		if k, _ := splitResourceID(r.ID()); k == kind {
			resource = r
			break
		}
	}
	if resource == nil {
		return nil, nil
	}
	_, rawID := splitResourceID(resource.ID())
	id, err := uuid.Parse(rawID)
	if err != nil {
		return nil, nil
	}
	merged := map[string]any{}
	for _, read := range objectReads[kind] {
		method, path, body := read(id)
		r, err := x.api.do(ctx, inv.headers(), method, path, body)
		if err != nil {
			return nil, err
		}
		if r.Status >= 300 {
			return nil, nil
		}
		data, err := decodeJSON(r.Body)
		if err != nil {
			return nil, fmt.Errorf("read %s %s: %w", kind, id, err)
		}
		if list, ok := data.([]any); ok {
			if len(list) == 0 {
				return nil, nil
			}
			data = list[0]
		}
		if m, ok := data.(map[string]any); ok {
			for k, v := range m {
				merged[k] = v
			}
		}
	}
	if kind == "prefect.flow-run" || kind == "prefect.task-run" {
		stateFromEvent(merged, resource)
	}
	return merged, nil
}

// stateFromEvent puts the event's state on a run read from the API: the run
// may have moved on since the event (Prefect's instantiate_object).
func stateFromEvent(run map[string]any, r events.Labels) {
	state := map[string]any{}
	for key, field := range map[string]string{"prefect.state-message": "message", "prefect.state-name": "name",
		"prefect.state-timestamp": "timestamp", "prefect.state-type": "type"} {
		v, ok := r.Get(key)
		if !ok {
			return
		}
		state[field] = v
	}
	run["state"] = state
}

// workspaceVariables reads variables by name (all of them for nil) as
// Prefect's read_workspace_variables: name to value.
func (x *executor) workspaceVariables(ctx context.Context, inv *invocation, names []string) (map[string]any, error) {
	const pageSize, maxVariables = 200, 1000
	out := map[string]any{}
	filter := map[string]any{}
	if names != nil {
		filter["name"] = map[string]any{"any_": names}
	}
	for offset := 0; offset < maxVariables; offset += pageSize {
		body := map[string]any{"variables": filter, "limit": pageSize, "offset": offset}
		r, err := x.api.do(ctx, inv.headers(), http.MethodPost, "/variables/filter", body)
		if err != nil {
			return nil, err
		}
		if r.Status >= 300 {
			return nil, fmt.Errorf("read variables: status %d: %s", r.Status, r.Body)
		}
		var page []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return nil, fmt.Errorf("read variables: %w", err)
		}
		for _, v := range page {
			out[v.Name] = jsonValue(v.Value)
		}
		if len(page) < pageSize {
			break
		}
	}
	return out, nil
}

// eventValue is an event for templates: its resources also answer id,
// name and role, as Prefect's Resource objects do.
func eventValue(raw json.RawMessage) any {
	ev, ok := jsonValue(raw).(map[string]any)
	if !ok {
		return nil
	}
	withAccessors(ev["resource"])
	if related, ok := ev["related"].([]any); ok {
		for _, r := range related {
			withAccessors(r)
		}
	}
	return ev
}

func withAccessors(v any) {
	r, ok := v.(map[string]any)
	if !ok {
		return
	}
	for field, label := range map[string]string{"id": events.LabelID, "name": events.LabelName, "role": events.LabelRole} {
		if _, taken := r[field]; !taken {
			r[field] = r[label]
		}
	}
}

// labelTree is Prefect's LabelDiver: "a.b.c" is reachable as labels.a.b.c,
// and by its full key too.
func labelTree(labels map[string]string) map[string]any {
	root := map[string]any{}
	for key, value := range labels {
		node := root
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		if _, isTree := node[parts[len(parts)-1]].(map[string]any); !isTree {
			node[parts[len(parts)-1]] = value
		}
	}
	for key, value := range labels {
		if _, taken := root[key]; !taken {
			root[key] = value
		}
	}
	return root
}

// allFirings flattens a firing and the firings that caused it, and their
// events (Prefect's Firing.all_firings and all_events).
func allFirings(f any) (firings, evs []any) {
	firing, ok := f.(map[string]any)
	if !ok {
		return []any{}, []any{}
	}
	firings = []any{firing}
	if e, ok := firing["triggering_event"].(map[string]any); ok {
		evs = append(evs, e)
	}
	if children, ok := firing["triggering_firings"].([]any); ok {
		for _, c := range children {
			cf, ce := allFirings(c)
			firings = append(firings, cf...)
			evs = append(evs, ce...)
		}
	}
	if evs == nil {
		evs = []any{}
	}
	return firings, evs
}
