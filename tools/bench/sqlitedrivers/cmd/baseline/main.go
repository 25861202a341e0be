// Command baseline is bun + database/sql without any SQLite driver: the
// reference for the binary-size increase each driver adds (see build.sh).
package main

import (
	"database/sql"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

func main() {
	db := bun.NewDB(&sql.DB{}, sqlitedialect.New())
	fmt.Println(db.Dialect().Name(), sql.Drivers())
}
