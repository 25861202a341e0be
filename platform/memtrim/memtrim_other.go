//go:build !linux

package memtrim

// NoReadahead does nothing where there is no /proc/self/maps and madvise.
func NoReadahead() error { return nil }

func pageOut() error { return nil }
