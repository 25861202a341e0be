//go:build linux

package memtrim

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NoReadahead advises random access on the executable's mappings, so that a
// page fault there reads one page instead of a readahead window.
func NoReadahead() error { return advise(unix.MADV_RANDOM) }

func pageOut() error { return advise(unix.MADV_PAGEOUT) }

func advise(advice int) error {
	ms, err := selfMappings()
	if err != nil {
		return err
	}
	for _, m := range ms {
		// The addresses come from /proc/self/maps, not from Go memory, so
		// the raw syscall is the honest call (no []byte over foreign memory).
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, uintptr(advice)); errno != 0 {
			return fmt.Errorf("madvise(%d) %#x-%#x: %w", advice, m.start, m.end, errno)
		}
	}
	return nil
}
