package automations

import (
	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
)

// Trigger validation as Prefect's ServerTriggerTypes: EventTrigger,
// CompoundTrigger and SequenceTrigger, tried in that order.

const compoundName = "function-after[validate_require(), function-after[validate_require(), CompoundTrigger]]"

// minProactiveWithin is Prefect's least window for a Proactive trigger, and
// its default when none is given.
const minProactiveWithin = 10.0

func triggerUnion() check {
	return union([]member{
		{name: "EventTrigger", model: eventTriggerModel},
		{name: compoundName, model: compoundTriggerModel},
		{name: "SequenceTrigger", model: sequenceTriggerModel},
	})
}

func newID() any { return uuid.NewString() }

func eventTriggerModel() model {
	zero := 0.0
	return model{
		fields: []field{
			{name: "type", def: constant("event"), check: literal("event")},
			{name: "id", def: newID, check: uuidValue},
			{name: "match", def: emptyDict, check: resourceSpec},
			{name: "match_related", def: emptyDict, check: matchRelated},
			{name: "after", def: emptyList, check: stringSet},
			{name: "expect", def: emptyList, check: stringSet},
			{name: "for_each", def: emptyList, check: stringSet},
			{name: "posture", check: oneOf("Posture.Reactive or Posture.Proactive", "Reactive", "Proactive")},
			{name: "threshold", def: constant(int64(1)), check: integer},
			{name: "within", def: constant(0.0), check: duration(&zero)},
		},
		before: proactiveWithin,
	}
}

// proactiveWithin is Prefect's enforce_minimum_within_for_proactive_triggers:
// it rewrites the input's within to seconds (so later errors quote it so),
// defaults a Proactive trigger's window to 10s and refuses a shorter one.
func proactiveWithin(in map[string]any, loc []any) *api.FieldError {
	raw, present := in["within"]
	if present && raw == nil {
		return valueErr("`within` should be a valid timedelta", in, loc)
	}
	within := 0.0
	if present {
		secs, ok := parseSeconds(raw)
		if !ok {
			return nil // the field check reports it
		}
		within = secs
		in["within"] = secs
	}
	if in["posture"] == "Proactive" {
		if within == 0 {
			in["within"] = minProactiveWithin
		} else if within < minProactiveWithin {
			return valueErr("`within` for Proactive triggers must be greater than or equal to 10 seconds", in, loc)
		}
	}
	return nil
}

func compositeFields(typ string) []field {
	return []field{
		{name: "type", def: constant(typ), check: literal(typ)},
		{name: "id", def: newID, check: uuidValue},
		{name: "triggers", check: listOf(func(v any, loc []any) (any, []api.FieldError) { return triggerUnion()(v, loc) })},
		{name: "within", check: optional(duration(nil))},
	}
}

func compoundTriggerModel() model {
	return model{
		fields: append(compositeFields("compound"), field{name: "require", check: require}),
		after: func(out *object, in map[string]any, loc []any) *api.FieldError {
			n, ok := out.get("require").(int64)
			if !ok {
				return nil
			}
			if n < 1 {
				return valueErr("require must be at least 1", in, loc)
			}
			if int(n) > len(out.get("triggers").([]any)) {
				return valueErr("require must be less than or equal to the number of triggers", in, loc)
			}
			return nil
		},
	}
}

func sequenceTriggerModel() model { return model{fields: compositeFields("sequence")} }

// require is Union[int, Literal["any", "all"]].
func require(v any, loc []any) (any, []api.FieldError) {
	if s, ok := v.(string); ok && (s == "any" || s == "all") {
		return s, nil
	}
	n, errs := integer(v, at(loc, "int"))
	if len(errs) == 0 {
		return n, nil
	}
	_, lerrs := oneOf("'any' or 'all'", "any", "all")(v, at(loc, "literal['any','all']"))
	return nil, append(errs, lerrs...)
}

// resourceSpec is Prefect's ResourceSpecification: label -> glob or globs.
func resourceSpec(v any, loc []any) (any, []api.FieldError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, []api.FieldError{fieldError("dict_type", "Input should be a valid dictionary", v, loc)}
	}
	var errs []api.FieldError
	for k, val := range m {
		switch x := val.(type) {
		case string:
		case []any:
			for i, it := range x {
				if _, ok := it.(string); !ok {
					errs = append(errs, fieldError("string_type", "Input should be a valid string", it, at(loc, k, "list[str]", i)))
				}
			}
		default:
			errs = append(errs,
				fieldError("string_type", "Input should be a valid string", val, at(loc, k, "str")),
				fieldError("list_type", "Input should be a valid list", val, at(loc, k, "list[str]")))
		}
	}
	return m, errs
}

// matchRelated is one ResourceSpecification or a list of them.
func matchRelated(v any, loc []any) (any, []api.FieldError) {
	if list, ok := v.([]any); ok {
		return listOf(resourceSpec)(list, loc)
	}
	return resourceSpec(v, loc)
}

// resetIDs gives a trigger and all its children new ids, as Prefect's
// Trigger.reset_ids does on every create and update.
func resetIDs(trigger any) {
	t, ok := trigger.(*object)
	if !ok {
		return
	}
	t.set("id", uuid.NewString())
	if children, ok := t.get("triggers").([]any); ok {
		for _, c := range children {
			resetIDs(c)
		}
	}
}
