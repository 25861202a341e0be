package main

import (
	"sort"

	"go.uber.org/fx"
)

// module is a feature module compiled into this binary. Each one registers
// itself from its own small file, whose build tag decides whether it is in:
// core modules have none; optional ones have "!slim || <name>" (plus the tags
// of the modules that depend on them), so `-tags slim,variables` adds one.
type module struct {
	name   string
	option fx.Option
}

var compiled []module

func register(name string, option fx.Option) {
	compiled = append(compiled, module{name: name, option: option})
}

// moduleNames lists the compiled modules, sorted.
func moduleNames() []string {
	names := make([]string, len(compiled))
	for i, m := range compiled {
		names[i] = m.name
	}
	sort.Strings(names)
	return names
}

func moduleOptions() []fx.Option {
	opts := make([]fx.Option, len(compiled))
	for i, m := range compiled {
		opts[i] = m.option
	}
	return opts
}
