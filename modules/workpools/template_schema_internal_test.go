package workpools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/platform/api"
)

// Every worker type's default template in the bundled collection view must
// pass, or `prefect work-pool create --type X` would be refused.
func TestBundledTemplatesPass(t *testing.T) {
	raw, err := collectionsFS.ReadFile("collections/aggregate-worker-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	var view map[string]map[string]struct {
		Template json.RawMessage `json:"default_base_job_configuration"`
	}
	if err := json.Unmarshal(raw, &view); err != nil {
		t.Fatal(err)
	}
	n := 0
	for collection, workers := range view {
		for typ, w := range workers {
			n++
			if err := checkTemplateDefaults(w.Template); err != nil {
				t.Errorf("%s/%s: %v", collection, typ, err)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d templates in the bundled view", n)
	}
}

func TestTemplateDefaultsChecked(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{`{"job_configuration":{"a":"{{ x }}"},"variables":{"type":"object","properties":{"x":{"type":"nonsense"}}}}`, "Invalid schema: "},
		{`{"job_configuration":{"a":"{{ x }}"},"variables":{"type":"object","properties":{"x":{"type":"integer","default":"str"}}}}`,
			"Validation failed for work pool's job variable defaults: Validation failed for field 'x'. Failure reason: "},
		{`{"job_configuration":{"a":"{{ x }}"},"variables":{"type":"object","required":["x"],"properties":{"x":{"type":"integer","default":null}}}}`, ""},
		{`{"job_configuration":{"a":"{{ x }}"},"variables":{"type":"object","properties":{"x":{"type":"object","default":{"$ref":{"block_document_id":"0b8d1c43-7a1a-4f0e-9a4b-5d6f1c2e3a4b"}}}}}}`, ""},
		{`{}`, ""},
	}
	for _, tt := range tests {
		err := checkTemplateDefaults(json.RawMessage(tt.give))
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want no error", tt.give, err)
			}
			continue
		}
		herr, ok := err.(*api.Error)
		if !ok || herr.Status != 422 || !strings.HasPrefix(herr.Detail.(string), tt.want) {
			t.Errorf("%s: %v, want a 422 starting %q", tt.give, err, tt.want)
		}
	}
}
