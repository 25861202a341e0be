package config

import (
	"fmt"
	"time"
)

// newServices returns the Services section reading lookup.
func newServices(lookup func(string) (string, bool)) Services {
	return Services{
		RunServices: true,
		RunAPI:      true,
		Env: func(name string) (string, bool) {
			_, v, ok := resolve(lookup, name)
			return v, ok
		},
		lookup: lookup,
	}
}

// get returns a setting's value and the name to report in an error: the
// variable actually set when known, else setting itself.
func (s Services) get(setting string) (used, value string, ok bool) {
	if s.Env == nil {
		return setting, "", false
	}
	value, ok = s.Env(setting)
	used = setting
	if ok && s.lookup != nil {
		used, _, _ = resolve(s.lookup, setting)
	}
	return used, value, ok
}

// Enabled reads a boolean setting such as
// "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", or def when it is unset.
func (s Services) Enabled(setting string, def bool) (bool, error) {
	used, v, ok := s.get(setting)
	if !ok {
		return def, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return def, fmt.Errorf("%s: %w", used, err)
	}
	return b, nil
}

// Duration reads a duration setting such as
// "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS", given in seconds or as an
// ISO 8601 or timedelta string, or def when it is unset.
func (s Services) Duration(setting string, def time.Duration) (time.Duration, error) {
	used, v, ok := s.get(setting)
	if !ok {
		return def, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return def, fmt.Errorf("%s: %w", used, err)
	}
	return d, nil
}

// Int reads an integer setting such as
// "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS", or def when it is unset.
func (s Services) Int(setting string, def int) (int, error) {
	used, v, ok := s.get(setting)
	if !ok {
		return def, nil
	}
	n, err := parseInt(v)
	if err != nil {
		return def, fmt.Errorf("%s: %w", used, err)
	}
	return n, nil
}
