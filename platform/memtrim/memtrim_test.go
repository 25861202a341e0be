package memtrim

import (
	"strings"
	"testing"
)

func TestExecutableMappings(t *testing.T) {
	maps := `00400000-01541000 r-xp 00000000 fe:00 10028081 /usr/bin/prefect-server
01541000-028f1000 r--p 01141000 fe:00 10028081 /usr/bin/prefect-server
028f1000-029b0000 rw-p 024f1000 fe:00 10028081 /usr/bin/prefect-server
3ca5ac00000-3ca5b800000 rw-p 00000000 00:00 0
7f827dd45000-7f827de9b000 r-xp 00026000 fe:00 326269 /usr/lib/x86_64-linux-gnu/libc.so.6
`
	got, err := executableMappings(strings.NewReader(maps), "/usr/bin/prefect-server")
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x400000, 0x1541000}, {0x1541000, 0x28f1000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %x, want %x", got, want)
	}
	if _, err := executableMappings(strings.NewReader("zz-1 r-xp 0 0 0 /x\n"), "/x"); err == nil {
		t.Fatal("a malformed range was accepted")
	}
}

// TestAdviseSelf: the advice applies to this test binary's own mappings.
func TestAdviseSelf(t *testing.T) {
	if err := NoReadahead(); err != nil {
		t.Fatal(err)
	}
	if err := StartupDone(); err != nil {
		t.Fatal(err)
	}
}
