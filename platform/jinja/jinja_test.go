package jinja

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestRender(t *testing.T) {
	vars := map[string]any{
		"flow_run": map[string]any{"name": "crimson-fox", "parameters": map[string]any{"x": 3}},
		"items":    []any{"a", "b"},
	}
	cases := map[string]string{
		"plain text, {not a template}":                                                    "plain text, {not a template}",
		"{{ flow_run.name }}":                                                             "crimson-fox",
		"{{ flow_run.parameters.x + 1 }}":                                                 "4",
		"{{ missing }}|{{ flow_run.missing }}":                                            "|",
		"{% for i in items %}{{ i }}{% endfor %}":                                         "ab",
		"{% for i in range(3) %}{{ i }}{% endfor %}":                                      "012",
		"{% for i in range(10, 0, -3) %}{{ i }},{% endfor %}":                             "10,7,4,1,",
		"{% for i in range(5) %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}": "01",
		"{{ items | length }} {{ flow_run.name | upper }}":                                "2 CRIMSON-FOX",
	}
	for tmpl, want := range cases {
		got, err := Render(tmpl, vars)
		if err != nil {
			t.Errorf("Render(%q): %v", tmpl, err)
			continue
		}
		if got != want {
			t.Errorf("Render(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

func TestSandboxLimits(t *testing.T) {
	if _, err := Render("{% for i in range(101) %}x{% endfor %}", nil); err == nil || !strings.Contains(err.Error(), "range too big") {
		t.Errorf("range(101): %v", err)
	}
	if _, err := Render("{{ range(100) | length }}", nil); err != nil {
		t.Errorf("range(100): %v", err)
	}
	eleven := strings.Repeat("{% for i in [1] %}{% endfor %}", 11)
	if err := Validate(eleven); !errors.Is(err, ErrSecurity) {
		t.Errorf("11 loops: %v", err)
	}
	if err := Validate(strings.Repeat("{% for i in [1] %}{% endfor %}", 10)); err != nil {
		t.Errorf("10 loops: %v", err)
	}
	deep := "{% for a in [1] %}{% for b in [1] %}{% for c in [1] %}{% endfor %}{% endfor %}{% endfor %}"
	if err := Validate(deep); !errors.Is(err, ErrSecurity) {
		t.Errorf("3 deep: %v", err)
	}
	for _, tmpl := range []string{`{% include "/etc/passwd" %}`, `{% import "x" as y %}`, `{% extends "base" %}`, `{% from "x" import y %}`} {
		if _, err := Render(tmpl, nil); err == nil {
			t.Errorf("%s rendered", tmpl)
		}
	}
}

func TestValidateSyntax(t *testing.T) {
	for _, bad := range []string{"{{ unclosed", "{% for x in %}", "{% if a %}no end"} {
		if err := Validate(bad); err == nil {
			t.Errorf("Validate(%q) accepted", bad)
		}
	}
	if err := Validate("Hello {{ name }}"); err != nil {
		t.Errorf("valid: %v", err)
	}
}

// The parsed-template cache is shared; renders run concurrently.
func TestConcurrentRender(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				got, err := Render("{{ n }}-{% for i in range(2) %}{{ i }}{% endfor %}", map[string]any{"n": i})
				if err != nil || !strings.HasSuffix(got, "-01") {
					t.Errorf("got %q, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
