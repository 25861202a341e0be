package memtrim

import (
	"os"
	"runtime/debug"
)

// DefaultHeapLimit is the soft heap limit the server runs with unless
// GOMEMLIMIT sets another: under load the garbage collector then runs before
// the heap doubles (GOGC's default) past it, which keeps RSS near the memory
// target instead of at twice the live heap. It is soft: a live heap above
// it makes the runtime collect more often, never fail.
const DefaultHeapLimit = 80 << 20

// SetHeapLimit applies DefaultHeapLimit when the environment sets no
// GOMEMLIMIT, and returns the limit in force.
func SetHeapLimit() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1) // read, not change
	}
	debug.SetMemoryLimit(DefaultHeapLimit)
	return DefaultHeapLimit
}
