package modernc

import (
	"fmt"
	"os"
	"testing"

	"github.com/prefect-server/prefect-server/tools/bench/sqlitedrivers/suite"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// DSN syntax: generic _pragma=name(value), applied in order on every new
// connection; _txlock selects the BEGIN mode.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"

var driver = suite.Driver{
	Name:      "modernc",
	SQLName:   "sqlite",
	WriterDSN: func(p string) string { return "file:" + p + "?" + pragmas + "&_txlock=immediate" },
	ReaderDSN: func(p string) string { return "file:" + p + "?" + pragmas + "&_pragma=query_only(1)" },
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
