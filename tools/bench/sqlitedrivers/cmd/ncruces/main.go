// Command ncruces is a minimal bun + SQLite program used only to measure binary
// size and cross-compilation (see build.sh).
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	_ "github.com/ncruces/go-sqlite3/driver"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

func main() {
	sqldb, err := sql.Open("sqlite3", "file::memory:?_pragma=foreign_keys(1)")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	var v string
	if err := db.NewRaw("SELECT sqlite_version()").Scan(context.Background(), &v); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(v)
}
