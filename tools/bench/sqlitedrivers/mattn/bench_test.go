package mattn

import (
	"fmt"
	"os"
	"testing"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3" (cgo)
	"github.com/prefect-server/prefect-server/tools/bench/sqlitedrivers/suite"
)

// DSN syntax: one dedicated query parameter per pragma (no generic _pragma);
// _txlock selects the BEGIN mode.
const pragmas = "_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"

var driver = suite.Driver{
	Name:      "mattn",
	SQLName:   "sqlite3",
	WriterDSN: func(p string) string { return "file:" + p + "?" + pragmas + "&_txlock=immediate" },
	ReaderDSN: func(p string) string { return "file:" + p + "?" + pragmas + "&_query_only=1" },
}

func TestMain(m *testing.M) {
	if err := suite.Describe(driver); err != nil {
		fmt.Println("describe:", err)
		os.Exit(1)
	}
	code := m.Run()
	fmt.Printf("# driver=%s peak_rss_MiB=%d\n", driver.Name, suite.RSSKB("VmHWM")/1024)
	suite.Cleanup()
	os.Exit(code)
}

func TestDSN(t *testing.T) { suite.CheckDSN(t, driver) }

func BenchmarkDrivers(b *testing.B) {
	b.Run("driver="+driver.Name, func(b *testing.B) { suite.Run(b, driver) })
}
