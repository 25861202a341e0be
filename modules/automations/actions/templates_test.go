package actions

import (
	"testing"

	"github.com/prefect-server/prefect-server/platform/jinja"
)

func TestTemplateContextValuesRenderAsPrefectsModels(t *testing.T) {
	ctx := map[string]any{
		"flow_run": withPyDateTimes(map[string]any{"expected_start_time": "2026-11-26T04:38:21.100000Z", "created": "2026-11-26T04:38:21Z",
			"name": "2026-11-26 is not a timestamp"}),
		"labels": labelTree(map[string]string{"prefect.resource.id": "prefect.flow-run.1", "prefect.resource.name": "brave"}),
	}
	tests := []struct {
		give, want string
	}{
		{"{{ flow_run.expected_start_time }}", "2026-11-26 04:38:21.100000+00:00"},
		{"at {{ flow_run.created }}", "at 2026-11-26 04:38:21+00:00"},
		{"{{ flow_run.name }}", "2026-11-26 is not a timestamp"},
		{"{{ (flow_run | tojson) | length > 0 }}", "True"},
		{"{{ labels.prefect.resource.name }}", "brave"},
		{"{{ labels['prefect.resource.id'] }}", "prefect.flow-run.1"},
	}
	for _, tt := range tests {
		got, err := jinja.Render(tt.give, ctx)
		if err != nil || got != tt.want {
			t.Fatalf("%s = %q, %v; want %q", tt.give, got, err, tt.want)
		}
	}
}

func TestUpgradeV1Templates(t *testing.T) {
	params := map[string]any{
		"lone":   "{{ x }}",
		"text":   "a {{ x }}",
		"plain":  "no template",
		"nested": map[string]any{"in": "{{ y }}"},
		"kept":   map[string]any{"__prefect_kind": "jinja", "template": "{{ z }}"},
		"list":   []any{"{{ x }}", "b"},
	}
	upgradeV1Templates(params)
	want := map[string]any{
		"lone":   map[string]any{"__prefect_kind": "json", "value": map[string]any{"__prefect_kind": "jinja", "template": "{{ x | tojson }}"}},
		"text":   map[string]any{"__prefect_kind": "jinja", "template": "a {{ x }}"},
		"plain":  "no template",
		"nested": map[string]any{"in": map[string]any{"__prefect_kind": "json", "value": map[string]any{"__prefect_kind": "jinja", "template": "{{ y | tojson }}"}}},
		"kept":   map[string]any{"__prefect_kind": "jinja", "template": "{{ z }}"},
		"list":   []any{map[string]any{"__prefect_kind": "json", "value": map[string]any{"__prefect_kind": "jinja", "template": "{{ x | tojson }}"}}, "b"},
	}
	if !jsonEqual(params, want) {
		t.Fatalf("upgraded = %v", params)
	}
}

func TestParseTimedelta(t *testing.T) {
	tests := []struct {
		give string
		want float64 // seconds; -1 for an error
	}{
		{``, 0}, {`null`, 0}, {`30`, 30}, {`1.5`, 1.5}, {`"PT30S"`, 30}, {`"P1DT2H"`, 93600}, {`"PT1M0.5S"`, 60.5},
		{`"45"`, 45}, {`-1`, -1}, {`"-PT5M"`, -1}, {`"soon"`, -1}, {`"P"`, -1},
	}
	for _, tt := range tests {
		got, err := parseTimedelta([]byte(tt.give))
		if (err != nil) != (tt.want < 0) || (err == nil && got.Seconds() != tt.want) {
			t.Fatalf("parseTimedelta(%s) = %v, %v; want %v s", tt.give, got, err, tt.want)
		}
	}
}

func TestPyRepr(t *testing.T) {
	tests := []struct {
		give any
		want string
	}{
		{"run-deployment", "'run-deployment'"},
		{"it's", `"it's"`},
		{[]any{map[string]any{"loc": []any{"body", float64(1)}, "ok": true, "x": nil}}, "[{'loc': ['body', 1], 'ok': True, 'x': None}]"},
	}
	for _, tt := range tests {
		if got := pyRepr(tt.give); got != tt.want {
			t.Fatalf("pyRepr(%v) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

func TestNumbersRenderAsPythons(t *testing.T) {
	v := jsonValue([]byte(`{"i": 7, "f": 7.5, "e": 1e20, "big": 123456789012345678901234567890, "l": [1, 2.0]}`))
	tests := []struct{ give, want string }{
		{"{{ v.i }}", "7"}, {"{{ v.f }}", "7.5"}, {"{{ v.e }}", "1e+20"},
		{"{{ v.big }}", "123456789012345678901234567890"}, {"{{ v.i + 1 }}", "8"},
	}
	for _, tt := range tests {
		got, err := jinja.Render(tt.give, map[string]any{"v": v})
		if err != nil || got != tt.want {
			t.Fatalf("%s = %q, %v; want %q", tt.give, got, err, tt.want)
		}
	}
}
