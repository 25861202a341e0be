package migrate_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

func set(module string, files map[string]string) migrate.Set {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys["m/sqlite/"+name] = &fstest.MapFile{Data: []byte(body)}
		fsys["m/postgres/"+name] = &fstest.MapFile{Data: []byte(body)}
	}
	return migrate.Set{Module: module, FS: fsys, Dir: "m"}
}

func TestUpAppliesOnceInIDOrderAcrossModules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dialect config.Dialect) {
		ctx := context.Background()
		d, err := db.Open(ctx, dbtest.Config(t, dialect), zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		a := set("a", map[string]string{"002_a.sql": "CREATE TABLE a (id TEXT, b_id TEXT REFERENCES b (id));"})
		b := set("b", map[string]string{"001_b.sql": "CREATE TABLE b (id TEXT PRIMARY KEY);"})
		applied, err := migrate.Up(ctx, d, []migrate.Set{a, b}, zap.NewNop())
		if err != nil || strings.Join(applied, ",") != "001_b,002_a" {
			t.Fatalf("first Up = %v, %v; want 001_b,002_a", applied, err)
		}
		// A module enabled later gets its older migrations applied.
		c := set("c", map[string]string{"000_c.sql": "CREATE TABLE c (id TEXT);"})
		applied, err = migrate.Up(ctx, d, []migrate.Set{a, b, c}, zap.NewNop())
		if err != nil || strings.Join(applied, ",") != "000_c" {
			t.Fatalf("second Up = %v, %v; want 000_c only", applied, err)
		}
		// A failing migration is not recorded and leaves nothing behind.
		bad := set("bad", map[string]string{"003_bad.sql": "CREATE TABLE d (id TEXT); CREATE TABLE nope ("})
		if _, err := migrate.Up(ctx, d, []migrate.Set{a, b, c, bad}, zap.NewNop()); err == nil {
			t.Fatal("a broken migration applied without error")
		}
		var n int
		if err := d.NewSelect().TableExpr("schema_migrations").ColumnExpr("count(*)").Where("id = '003_bad'").Scan(ctx, &n); err != nil || n != 0 {
			t.Fatalf("broken migration recorded: n=%d err=%v", n, err)
		}
		if err := migrate.Reset(ctx, d); err != nil {
			t.Fatal(err)
		}
		applied, err = migrate.Up(ctx, d, []migrate.Set{a, b, c}, zap.NewNop())
		if err != nil || len(applied) != 3 {
			t.Fatalf("Up after Reset = %v, %v; want all three", applied, err)
		}
	})
}

func TestDuplicateIDsAreRefused(t *testing.T) {
	_, err := migrate.Collect("sqlite", []migrate.Set{
		set("a", map[string]string{"001_x.sql": "SELECT 1;"}),
		set("b", map[string]string{"001_x.sql": "SELECT 1;"}),
	})
	if err == nil || !strings.Contains(err.Error(), "001_x") {
		t.Fatalf("err = %v, want a duplicate id error", err)
	}
}
