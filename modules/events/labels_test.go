package events

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestLabelsJSON(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    string // re-encoded; "" for an error
		wantKey string // the label a type error names
	}{
		{"order kept", `{"b": "1", "a": "2", "c": "3"}`, `{"b":"1","a":"2","c":"3"}`, ""},
		{"empty", ` { } `, `{}`, ""},
		{"escapes", `{"k\"ey": "line\nbreak \u00e9 <tag> &"}`, `{"k\"ey":"line\nbreak é \u003ctag\u003e \u0026"}`, ""},
		{"unicode", `{"名前": "値"}`, `{"名前":"値"}`, ""},
		{"repeated key keeps its first place, last value", `{"a": "1", "b": "2", "a": "3"}`, `{"a":"3","b":"2"}`, ""},
		{"number value", `{"a": "1", "n": 5}`, "", "n"},
		{"null value", `{"n": null}`, "", "n"},
		{"not an object", `["a"]`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Labels
			err := json.Unmarshal([]byte(tt.give), &l)
			if tt.want == "" {
				var lt *labelTypeError
				if err == nil || (tt.wantKey != "" && (!errors.As(err, &lt) || lt.Key != tt.wantKey)) {
					t.Fatalf("err = %v, want an error naming %q", err, tt.wantKey)
				}
				return
			}
			got, _ := json.Marshal(l)
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
			var slow Labels
			if err := slow.unmarshalSlow([]byte(tt.give)); err != nil || len(slow) != len(l) {
				t.Fatalf("slow path disagrees: %v, %v", slow, err)
			}
			for i := range l {
				if l[i] != slow[i] {
					t.Fatalf("fast %v, slow %v", l, slow)
				}
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, value string
		present, want  bool
	}{
		{"prefect.flow-run.*", "prefect.flow-run.123", true, true},
		{"prefect.flow-run.*", "prefect.flow.123", true, false},
		{"a?c", "abc", true, true},
		{"a?c", "ac", true, false},
		{"*", "", true, true},
		{"a*b*c", "aXXbYYc", true, true},
		{"a*b*c", "aXXbYY", true, false},
		{"A*", "abc", true, false},
		{"!a*", "abc", true, false},
		{"!a*", "xbc", true, true},
		{"!a*", "", false, false},
		{"a[1]", "a[1]", true, true},
		{"é?", "éx", true, true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.value, tt.present); got != tt.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", tt.pattern, tt.value, tt.present, got, tt.want)
		}
	}
}
