package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Event is Prefect's ReceivedEvent: an event as the server keeps, stores and
// returns it. Fields are in Prefect's order, which is the JSON order.
type Event struct {
	Occurred types.DateTime `json:"occurred"`
	Event    string         `json:"event"`
	Resource Labels         `json:"resource"`
	Related  []Labels       `json:"related"`
	// Payload is a JSON object, kept as it was received.
	Payload  json.RawMessage `json:"payload"`
	ID       uuid.UUID       `json:"id"`
	Follows  *uuid.UUID      `json:"follows"`
	Received types.DateTime  `json:"received"`
}

// Payload encodes v (a map or struct) for Event.Payload; nil gives {}.
func Payload(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) == 0 || b[0] != '{' {
		return json.RawMessage("{}")
	}
	return b
}

// normalize fills what an event built in Go may leave empty.
func (e *Event) normalize() {
	if e.Related == nil {
		e.Related = []Labels{}
	}
	if len(e.Payload) == 0 {
		e.Payload = json.RawMessage("{}")
	}
}

// limits are the checks Prefect applies to incoming events.
type limits struct {
	maxLabels  int
	maxRelated int
	maxName    int
	maxBytes   int
}

func newLimits(cfg config.Events) limits {
	return limits{maxLabels: cfg.MaximumLabelsPerResource, maxRelated: cfg.MaximumRelatedResources,
		maxName: cfg.MaximumEventNameLength, maxBytes: cfg.MaximumSizeBytes}
}

// invalid is one pydantic-shaped error; loc is below the event.
func invalid(typ, msg string, input any, loc ...any) api.FieldError {
	return api.FieldError{Type: typ, Loc: loc, Msg: msg, Input: input}
}

func valueError(msg string, input any, loc ...any) api.FieldError {
	return api.FieldError{Type: "value_error", Loc: loc, Msg: "Value error, " + msg, Input: input, Ctx: map[string]any{"error": map[string]any{}}}
}

// eventFields are the fields of an incoming event, decoded one at a time so
// that each error names its field as pydantic does. Unknown fields (such as a
// client-sent "received") are ignored, as Prefect's Event ignores them.
type eventFields struct {
	Occurred json.RawMessage `json:"occurred"`
	Event    json.RawMessage `json:"event"`
	Resource json.RawMessage `json:"resource"`
	Related  json.RawMessage `json:"related"`
	Payload  json.RawMessage `json:"payload"`
	ID       json.RawMessage `json:"id"`
	Follows  json.RawMessage `json:"follows"`
}

// parseEvent validates one incoming event (Prefect's Event) and returns it
// received now. Error locations are relative to the event.
func parseEvent(raw []byte, lim limits, now types.DateTime) (*Event, []api.FieldError) {
	var f eventFields
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, []api.FieldError{invalid("json_invalid", "Invalid JSON", string(raw))}
		}
		return nil, []api.FieldError{invalid("model_type", "Input should be a valid dictionary or instance of Event", rawInput(raw))}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, []api.FieldError{invalid("json_invalid", "Invalid JSON: "+err.Error(), string(raw))}
	}
	e := &Event{Received: now}
	var errs []api.FieldError
	add := func(fe ...api.FieldError) {
		for _, x := range fe {
			if x.Type == "missing" {
				x.Input = rawInput(raw) // pydantic shows the whole event
			}
			errs = append(errs, x)
		}
	}

	if t, fe := parseOccurred(f.Occurred); fe != nil {
		add(*fe)
	} else {
		e.Occurred = t
	}
	if s, fe := parseString(f.Event, "event"); fe != nil {
		add(*fe)
	} else if utf8.RuneCountInString(s) > lim.maxName {
		add(valueError(fmt.Sprintf("Event name must be at most %d characters", lim.maxName), s, "event"))
	} else {
		e.Event = s
	}
	if len(f.Resource) == 0 {
		add(invalid("missing", "Field required", nil, "resource"))
	} else {
		r, fe := parseResource(f.Resource, lim, false, "resource")
		add(fe...)
		e.Resource = r
	}
	e.Related = []Labels{}
	if len(f.Related) > 0 && string(f.Related) != "null" {
		var items []json.RawMessage
		if err := json.Unmarshal(f.Related, &items); err != nil {
			add(invalid("list_type", "Input should be a valid list", rawInput(f.Related), "related"))
		} else if len(items) > lim.maxRelated {
			add(valueError(fmt.Sprintf("The maximum number of related resources is %d", lim.maxRelated), nil, "related"))
		} else {
			for i, it := range items {
				r, fe := parseResource(it, lim, true, "related", i)
				add(fe...)
				e.Related = append(e.Related, r)
			}
		}
	}
	e.Payload = json.RawMessage("{}")
	if p := bytes.TrimSpace(f.Payload); len(p) > 0 && string(p) != "null" {
		if p[0] != '{' {
			add(invalid("dict_type", "Input should be a valid dictionary", rawInput(p), "payload"))
		} else {
			var compact bytes.Buffer
			_ = json.Compact(&compact, p) // already valid: Unmarshal checked it
			e.Payload = compact.Bytes()
		}
	}
	if id, fe := parseUUID(f.ID, "id", true); fe != nil {
		add(*fe)
	} else {
		e.ID = *id
	}
	if id, fe := parseUUID(f.Follows, "follows", false); fe != nil {
		add(*fe)
	} else {
		e.Follows = id
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

func rawInput(raw json.RawMessage) any {
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}

func parseString(raw json.RawMessage, field string) (string, *api.FieldError) {
	if len(raw) == 0 {
		fe := invalid("missing", "Field required", nil, field)
		return "", &fe
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || string(raw) == "null" {
		fe := invalid("string_type", "Input should be a valid string", rawInput(raw), field)
		return "", &fe
	}
	return s, nil
}

// parseOccurred accepts what pydantic's datetime accepts from clients: ISO
// 8601 strings (naive ones are UTC) and Unix timestamps in seconds or, above
// 2e10, milliseconds.
func parseOccurred(raw json.RawMessage) (types.DateTime, *api.FieldError) {
	if len(raw) == 0 {
		fe := invalid("missing", "Field required", nil, "occurred")
		return types.DateTime{}, &fe
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&v)
	switch x := v.(type) {
	case string:
		t, err := types.Parse(x)
		if err == nil {
			return types.From(t), nil
		}
	case json.Number:
		f, err := x.Float64()
		if err == nil && !math.IsInf(f, 0) {
			if math.Abs(f) > 2e10 {
				f /= 1000
			}
			sec, frac := math.Modf(f)
			return types.From(time.Unix(int64(sec), int64(frac*1e9))), nil
		}
	}
	fe := valueError(fmt.Sprintf("Unable to parse string [%v]", v), v, "occurred")
	return types.DateTime{}, &fe
}

// parseUUID reads a UUID field; an absent or null optional one is nil.
func parseUUID(raw json.RawMessage, field string, required bool) (*uuid.UUID, *api.FieldError) {
	if len(raw) == 0 || (!required && string(raw) == "null") {
		if !required {
			return nil, nil
		}
		fe := invalid("missing", "Field required", nil, field)
		return nil, &fe
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		fe := invalid("uuid_type", "UUID input should be a string, bytes or UUID object", rawInput(raw), field)
		return nil, &fe
	}
	id, err := uuid.Parse(s)
	if err != nil {
		detail := uuidDetail(s)
		fe := api.FieldError{Type: "uuid_parsing", Loc: []any{field}, Msg: "Input should be a valid UUID, " + detail,
			Input: s, Ctx: map[string]any{"error": detail}}
		return nil, &fe
	}
	return &id, nil
}

// uuidDetail words a UUID parse failure as pydantic does.
func uuidDetail(s string) string {
	for i, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF-", r) {
			return fmt.Sprintf("invalid character: found `%c` at %d", r, i)
		}
	}
	return fmt.Sprintf("invalid length: expected length 32 for simple format, found %d", len(strings.ReplaceAll(s, "-", "")))
}

// parseResource validates a Resource (or a RelatedResource when related).
func parseResource(raw json.RawMessage, lim limits, related bool, loc ...any) (Labels, []api.FieldError) {
	var l Labels
	if err := json.Unmarshal(raw, &l); err != nil {
		var lt *labelTypeError
		if errors.As(err, &lt) {
			return nil, []api.FieldError{invalid("string_type", "Input should be a valid string", lt.Input, append(loc, lt.Key)...)}
		}
		return nil, []api.FieldError{invalid("dict_type", "Input should be a valid dictionary", rawInput(raw), loc...)}
	}
	fail := func(msg string) (Labels, []api.FieldError) {
		return nil, []api.FieldError{valueError(msg, rawInput(raw), loc...)}
	}
	if len(l) > lim.maxLabels {
		return fail(fmt.Sprintf("The maximum number of labels per resource is %d", lim.maxLabels))
	}
	id, ok := l.Get(LabelID)
	switch {
	case !ok:
		return fail("Resources must include the prefect.resource.id label")
	case id == "":
		return fail("The prefect.resource.id label must be non-empty")
	}
	if related {
		role, ok := l.Get(LabelRole)
		switch {
		case !ok:
			return fail("Related Resources must include the prefect.resource.role label")
		case role == "":
			return fail("The prefect.resource.role label must be non-empty")
		}
	}
	return l, nil
}

// describe words validation errors for a websocket close reason.
func describe(errs []api.FieldError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		loc := make([]string, len(e.Loc))
		for i, l := range e.Loc {
			loc[i] = fmt.Sprint(l)
		}
		if len(loc) == 0 {
			parts = append(parts, e.Msg)
			continue
		}
		parts = append(parts, strings.Join(loc, ".")+": "+e.Msg)
	}
	return strings.Join(parts, "; ")
}
