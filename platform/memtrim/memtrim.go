// Package memtrim keeps the server's resident memory to what it uses.
//
// Most of an idle Go server's RSS is its own executable: text and read-only
// data mapped from the binary file. The kernel reads a mapped file ahead in
// large windows (8 MiB on some disks), so the few pages that start-up
// touches bring most of the 50 MB binary into the process's RSS. Advising
// random access on those mappings makes later faults read single pages, and
// paging them out once start-up is done drops the pages only start-up
// needed; the pages requests need come back, one at a time, from the page
// cache. Start-up's garbage on the heap goes back to the OS too.
package memtrim

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// mapping is one address range of /proc/self/maps.
type mapping struct{ start, end uintptr }

// executableMappings lists the read-only and executable mappings of the
// running binary from a /proc/<pid>/maps listing.
func executableMappings(maps io.Reader, exe string) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != exe || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("maps: bad range %q", f[0])
		}
		start, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps: bad range %q: %w", f[0], err)
		}
		end, err := strconv.ParseUint(hi, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps: bad range %q: %w", f[0], err)
		}
		out = append(out, mapping{uintptr(start), uintptr(end)})
	}
	return out, sc.Err()
}

// selfMappings is executableMappings of this process.
func selfMappings() ([]mapping, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("executable path: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, fmt.Errorf("read own mappings: %w", err)
	}
	defer f.Close()
	return executableMappings(f, exe)
}

// StartupDone releases what only start-up needed: the executable's pages
// (see the package doc) and the heap's free memory.
func StartupDone() error {
	debug.FreeOSMemory()
	return pageOut()
}
