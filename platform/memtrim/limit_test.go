package memtrim

import (
	"runtime/debug"
	"testing"
)

func TestSetHeapLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	t.Setenv("GOMEMLIMIT", "")
	if got := SetHeapLimit(); got != DefaultHeapLimit || debug.SetMemoryLimit(-1) != DefaultHeapLimit {
		t.Errorf("without GOMEMLIMIT: limit %d, runtime %d, want %d", got, debug.SetMemoryLimit(-1), DefaultHeapLimit)
	}

	debug.SetMemoryLimit(1 << 30) // as the runtime would have read GOMEMLIMIT=1GiB
	t.Setenv("GOMEMLIMIT", "1GiB")
	if got := SetHeapLimit(); got != 1<<30 {
		t.Errorf("with GOMEMLIMIT: SetHeapLimit = %d, want the runtime's 1 GiB kept", got)
	}
}
