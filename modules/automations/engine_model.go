package automations

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/events"
)

// The triggers engine's view of an automation: its stored trigger decoded
// into a tree, each node knowing its parent and automation, as Prefect's
// Trigger does after _set_parent.

// loaded is an enabled automation ready for evaluation.
type loaded struct {
	automation Automation
	root       *trigger
	actions    []json.RawMessage
	onTrigger  []json.RawMessage
}

// trigger is one node of an automation's trigger tree (Prefect's
// EventTrigger, CompoundTrigger or SequenceTrigger as stored).
type trigger struct {
	Type         string          `json:"type"`
	ID           uuid.UUID       `json:"id"`
	Match        spec            `json:"match"`
	MatchRelated json.RawMessage `json:"match_related"`
	After        []string        `json:"after"`
	Expect       []string        `json:"expect"`
	ForEach      []string        `json:"for_each"`
	Posture      string          `json:"posture"`
	Threshold    int             `json:"threshold"`
	Within       *float64        `json:"within"`
	Triggers     []*trigger      `json:"triggers"`
	Require      json.RawMessage `json:"require"`

	related   []spec
	parent    *trigger
	owner     *loaded
	raw       json.RawMessage // the node as stored, for Firing.trigger
	sortedFor []string
}

// spec is Prefect's ResourceSpecification: label -> glob patterns.
type spec map[string][]string

func (s *spec) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := spec{}
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = []string{x}
		case []any:
			for _, p := range x {
				if str, ok := p.(string); ok {
					out[k] = append(out[k], str)
				}
			}
		}
	}
	*s = out
	return nil
}

// load decodes a stored automation's trigger and actions.
func load(a Automation) (*loaded, error) {
	l := &loaded{automation: a}
	if err := json.Unmarshal(a.Actions, &l.actions); err != nil {
		return nil, fmt.Errorf("decode actions of automation %s: %w", a.ID, err)
	}
	if err := json.Unmarshal(a.ActionsOnTrigger, &l.onTrigger); err != nil {
		return nil, fmt.Errorf("decode actions_on_trigger of automation %s: %w", a.ID, err)
	}
	root, err := decodeTrigger(a.Trigger, nil, l)
	if err != nil {
		return nil, fmt.Errorf("decode trigger of automation %s: %w", a.ID, err)
	}
	l.root = root
	return l, nil
}

func decodeTrigger(raw json.RawMessage, parent *trigger, owner *loaded) (*trigger, error) {
	var t trigger
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	var children struct {
		Triggers []json.RawMessage `json:"triggers"`
	}
	if err := json.Unmarshal(raw, &children); err != nil {
		return nil, err
	}
	t.parent, t.owner, t.raw = parent, owner, raw
	t.Triggers = nil
	for _, c := range children.Triggers {
		child, err := decodeTrigger(c, &t, owner)
		if err != nil {
			return nil, err
		}
		t.Triggers = append(t.Triggers, child)
	}
	if len(t.MatchRelated) > 0 && t.MatchRelated[0] == '[' {
		if err := json.Unmarshal(t.MatchRelated, &t.related); err != nil {
			return nil, err
		}
	} else if len(t.MatchRelated) > 0 {
		var one spec
		if err := json.Unmarshal(t.MatchRelated, &one); err != nil {
			return nil, err
		}
		t.related = []spec{one}
	}
	t.sortedFor = append([]string(nil), t.ForEach...)
	sort.Strings(t.sortedFor)
	return &t, nil
}

// eventTriggers lists the event triggers of a tree, depth first.
func (t *trigger) eventTriggers() []*trigger {
	if t.Type == "event" {
		return []*trigger{t}
	}
	var out []*trigger
	for _, c := range t.Triggers {
		out = append(out, c.eventTriggers()...)
	}
	return out
}

func (t *trigger) within() time.Duration {
	if t.Within == nil {
		return 0
	}
	return time.Duration(*t.Within * float64(time.Second))
}

func (t *trigger) reactive() bool { return t.Posture == "Reactive" }

// immediate is a reactive trigger that fires on each event, with no window.
func (t *trigger) immediate() bool { return t.reactive() && t.within() == 0 }

// expects is EventTrigger.expects: no expect means every event.
func (t *trigger) expects(event string) bool {
	return len(t.Expect) == 0 || anyGlob(t.Expect, event)
}

// startsAfter is EventTrigger.starts_after.
func (t *trigger) startsAfter(event string) bool { return len(t.After) > 0 && anyGlob(t.After, event) }

// covers is EventTrigger.covers: the event's name is expected (or is an
// "after" event) and its resources match.
func (t *trigger) covers(e *events.Event) bool {
	if len(t.Expect) > 0 && !anyGlob(t.Expect, e.Event) && !anyGlob(t.After, e.Event) {
		return false
	}
	if !t.Match.includes([]events.Labels{e.Resource}) {
		return false
	}
	for _, s := range t.related {
		if !s.includes(e.Related) {
			return false
		}
	}
	return true
}

// bucketingKey is the event's value of each for_each label, sorted by label.
func (t *trigger) bucketingKey(e *events.Event) []string {
	key := make([]string, len(t.sortedFor))
	for i, label := range t.sortedFor {
		key[i] = findResourceLabel(e, label)
	}
	return key
}

// triggeringLabels pairs the sorted for_each labels with a bucket's key.
func (t *trigger) triggeringLabels(key []string) map[string]string {
	out := map[string]string{}
	for i, label := range t.sortedFor {
		if i < len(key) {
			out[label] = key[i]
		}
	}
	return out
}

func (t *trigger) meetsThreshold(count int) bool {
	if t.reactive() {
		return count >= t.Threshold
	}
	return count < t.Threshold
}

// findResourceLabel is Event.find_resource_label: "related:<role>:<label>"
// reads the first related resource in that role, else the primary resource.
func findResourceLabel(e *events.Event, label string) string {
	directive, relatedLabel := "", label
	if i := strings.LastIndex(label, ":"); i >= 0 {
		directive, relatedLabel = label[:i], label[i+1:]
	}
	if role, ok := strings.CutPrefix(directive, "related:"); ok {
		for _, r := range e.Related {
			if r.Role() == role {
				v, _ := r.Get(relatedLabel)
				return v
			}
		}
	}
	v, _ := e.Resource.Get(label)
	return v
}

// includes is ResourceSpecification.includes: an empty spec includes
// everything, else one candidate must match every label.
func (s spec) includes(candidates []events.Labels) bool {
	if len(s) == 0 {
		return true
	}
	for _, c := range candidates {
		if s.matches(c) {
			return true
		}
	}
	return false
}

func (s spec) matches(r events.Labels) bool {
	for label, patterns := range s {
		value, present := r.Get(label)
		ok := false
		for _, p := range patterns {
			if present && labelMatches(p, value) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// labelMatches is Prefect's matches(): a glob, negated by a leading "!".
func labelMatches(pattern, value string) bool {
	if neg, ok := strings.CutPrefix(pattern, "!"); ok {
		return !glob(neg, value)
	}
	return glob(pattern, value)
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if glob(p, s) {
			return true
		}
	}
	return false
}

// glob is fnmatchcase for "*" and "?".
func glob(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if glob(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			p, s = p[1:], s[1:]
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
	}
	return s == ""
}
