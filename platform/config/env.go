package config

import (
	"fmt"
	"time"
)

// aliasIndex maps every known variable name (current or legacy) to the
// setting's names in pydantic's precedence order: the current name first,
// then each alias as AliasChoices lists it.
var aliasIndex = func() map[string][]string {
	idx := make(map[string][]string)
	for _, v := range allVariables() {
		names := append([]string{v.Name}, v.Aliases...)
		for _, n := range names {
			idx[n] = names
		}
	}
	return idx
}()

// namesOf returns a setting's names in precedence order; a name that is not a
// known Prefect setting stands for itself alone.
func namesOf(name string) []string {
	if names, ok := aliasIndex[name]; ok {
		return names
	}
	return []string{name}
}

// resolve looks a setting up under each of its names and returns the first
// one present, as pydantic's AliasChoices does. An empty value counts as
// present (pydantic-settings' env_ignore_empty is off in Prefect).
func resolve(lookup func(string) (string, bool), name string) (used, value string, ok bool) {
	for _, n := range namesOf(name) {
		if v, ok := lookup(n); ok {
			return n, v, true
		}
	}
	return name, "", false
}

// env reads typed settings and collects every bad value, so that one run
// reports all of them.
type env struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (e *env) fail(used string, err error) {
	e.errs = append(e.errs, fmt.Errorf("%s: %w", used, err))
}

func (e *env) str(name, def string) string {
	if _, v, ok := resolve(e.lookup, name); ok {
		return v
	}
	return def
}

func (e *env) boolean(name string, def bool) bool {
	used, v, ok := resolve(e.lookup, name)
	if !ok {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		e.fail(used, err)
		return def
	}
	return b
}

func (e *env) integer(name string, def int) int {
	used, v, ok := resolve(e.lookup, name)
	if !ok {
		return def
	}
	n, err := parseInt(v)
	if err != nil {
		e.fail(used, err)
		return def
	}
	return n
}

// positive is integer for settings Prefect declares with gt=0.
func (e *env) positive(name string, def int) int {
	used, v, ok := resolve(e.lookup, name)
	if !ok {
		return def
	}
	n, err := parseInt(v)
	if err == nil && n < 1 {
		err = fmt.Errorf("%q must be greater than 0", v)
	}
	if err != nil {
		e.fail(used, err)
		return def
	}
	return n
}

func (e *env) port(name string, def int) int {
	used, v, ok := resolve(e.lookup, name)
	if !ok {
		return def
	}
	n, err := parsePort(v)
	if err != nil {
		e.fail(used, err)
		return def
	}
	return n
}

func (e *env) duration(name string, def time.Duration) time.Duration {
	used, v, ok := resolve(e.lookup, name)
	if !ok {
		return def
	}
	d, err := parseDuration(v)
	if err != nil {
		e.fail(used, err)
		return def
	}
	return d
}

func (e *env) kind(name string, def BrokerKind, memoryModule, redisModule string) BrokerKind {
	used, v, ok := resolve(e.lookup, name)
	if !ok {
		return def
	}
	k, err := parseKind(v, memoryModule, redisModule)
	if err != nil {
		e.fail(used, err)
		return def
	}
	return k
}

func (e *env) logLevel(name, def string) string {
	used, v, ok := resolve(e.lookup, name)
	if !ok {
		return def
	}
	l, err := parseLogLevel(v)
	if err != nil {
		e.fail(used, err)
		return def
	}
	return l
}
