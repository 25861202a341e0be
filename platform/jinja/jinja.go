// Package jinja validates and renders user-supplied Jinja templates the way
// Prefect's server does (prefect/server/utilities/user_templates.py):
// undefined names render as nothing, range() is capped at 100 items, a
// template may hold at most 10 for loops nested at most 2 deep, and it can
// read nothing outside itself (no include, import, from or extends).
//
// Where we differ from Prefect's Jinja: an undefined name or attribute
// renders as nothing, as there, but an attribute of it is an error (Jinja's
// ChainableUndefined would render "{{ missing.deeper }}" as nothing too), and
// the jinja2-humanize filters are not available.
//
// Templates are parsed and run by gonja, a Go implementation of Jinja2.
// Parsed templates are cached by source, since automations and deployment
// parameters render the same few templates again and again.
package jinja

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// Prefect's sandbox limits.
const (
	MaxRange          = 100
	MaxLoops          = 10
	MaxNestedLoops    = 2
	maxCachedTemplate = 512
)

// ErrSecurity marks a template refused by the sandbox's limits (Prefect's
// TemplateSecurityError) rather than by a syntax error.
var ErrSecurity = errors.New("template refused by the sandbox")

// MaybeTemplate reports whether s holds Jinja syntax at all; other strings
// are returned by Render unchanged, as Prefect does.
func MaybeTemplate(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%")
}

// Validate parses template and applies the sandbox's loop limits.
func Validate(template string) error {
	_, err := parse(template)
	return err
}

// Render renders template with vars. A string without Jinja syntax is
// returned as it is. Values may be any JSON-like Go values (maps, slices,
// strings, numbers, bools, nil) or structs.
func Render(template string, vars map[string]any) (string, error) {
	if !MaybeTemplate(template) {
		return template, nil
	}
	t, err := parse(template)
	if err != nil {
		return "", err
	}
	ctx := exec.NewContext(map[string]any{})
	ctx = ctx.Update(environment.Context).Update(exec.NewContext(vars))
	out, err := t.ExecuteToString(ctx)
	if err != nil {
		return "", fmt.Errorf("failed to render template: %w", err)
	}
	return out, nil
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*exec.Template{}
)

// parse returns the parsed template, from the cache when it was seen.
func parse(source string) (*exec.Template, error) {
	cacheMu.Lock()
	t, ok := cache[source]
	cacheMu.Unlock()
	if ok {
		return t, nil
	}
	if err := checkLoops(source); err != nil {
		return nil, err
	}
	t, err := exec.NewTemplate(rootName, templateConfig, sourceLoader(source), environment)
	if err != nil {
		return nil, err
	}
	cacheMu.Lock()
	if len(cache) >= maxCachedTemplate {
		clear(cache) // a crude bound; templates are few and cheap to re-parse
	}
	cache[source] = t
	cacheMu.Unlock()
	return t, nil
}

var templateConfig = config.New()

// environment is gonja's default one without the control structures that
// read other templates, and with Prefect's bounded range().
var environment = &exec.Environment{
	Context:           exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables).Update(exec.NewContext(map[string]any{"range": boundedRange})),
	Filters:           builtins.Filters,
	Tests:             builtins.Tests,
	ControlStructures: sandboxedControlStructures(),
	Methods:           builtins.Methods,
}

func sandboxedControlStructures() *exec.ControlStructureSet {
	all := map[string]parser.ControlStructureParser{}
	for _, name := range []string{"autoescape", "block", "filter", "for", "if", "macro", "raw", "set", "with", "do", "break", "continue", "call"} {
		p, ok := builtins.ControlStructures.Get(name)
		if !ok {
			panic("jinja: gonja has no control structure " + name)
		}
		all[name] = p
	}
	return exec.NewControlStructureSet(all)
}

// boundedRange is Jinja's range() refusing more than MaxRange items. It
// returns a slice: gonja's own range feeds a channel from a goroutine that
// a loop's break would leave blocked forever.
func boundedRange(_ *exec.Evaluator, params *exec.VarArgs) ([]int, error) {
	start, stop, step := 0, 0, 1
	args := params.Args
	for _, a := range args {
		if !a.IsInteger() {
			return nil, errors.New("range() takes integers")
		}
	}
	switch len(args) {
	case 1:
		stop = args[0].Integer()
	case 2:
		start, stop = args[0].Integer(), args[1].Integer()
	case 3:
		start, stop, step = args[0].Integer(), args[1].Integer(), args[2].Integer()
	default:
		return nil, errors.New("range() takes [start, ]stop[, step]")
	}
	if step == 0 {
		return nil, errors.New("range() step must not be zero")
	}
	n := 0
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && start > stop {
		n = (start - stop - step - 1) / -step
	}
	if n > MaxRange {
		return nil, fmt.Errorf("%w: range too big, the sandbox blocks ranges larger than MAX_TEMPLATE_RANGE=%d", ErrSecurity, MaxRange)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = start + i*step
	}
	return out, nil
}
