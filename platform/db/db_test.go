package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// TestConcurrentWritesNeverLock hammers one database with concurrent write
// transactions and readers: SQLite must never answer "database is locked",
// and every acknowledged write must be there.
func TestConcurrentWritesNeverLock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dialect config.Dialect) {
		ctx := context.Background()
		d := open(t, dialect)
		if _, err := d.ExecContext(ctx, "CREATE TABLE item (id TEXT PRIMARY KEY, n INTEGER NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		const writers, perWriter, readers = 16, 100, 8
		var wg sync.WaitGroup
		errs := make(chan error, writers+readers)
		stop := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					err := d.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
						_, err := tx.ExecContext(ctx, "INSERT INTO item (id, n) VALUES (?, ?)", fmt.Sprintf("%d-%d", w, i), i)
						return err
					})
					if err != nil {
						errs <- fmt.Errorf("writer %d insert %d: %w", w, i, err)
						return
					}
				}
			}()
		}
		var rwg sync.WaitGroup
		for range readers {
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var n int
					if err := d.Read.NewSelect().TableExpr("item").ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
						errs <- fmt.Errorf("reader: %w", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		rwg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		var n int
		if err := d.Read.NewSelect().TableExpr("item").ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if n != writers*perWriter {
			t.Fatalf("rows = %d, want %d", n, writers*perWriter)
		}
	})
}

func TestTranslate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dialect config.Dialect) {
		ctx := context.Background()
		d := open(t, dialect)
		if _, err := d.ExecContext(ctx, "CREATE TABLE u (id TEXT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, "INSERT INTO u (id) VALUES ('a')"); err != nil {
			t.Fatal(err)
		}
		_, err := d.ExecContext(ctx, "INSERT INTO u (id) VALUES ('a')")
		if got := db.Translate(err); !errors.Is(got, db.ErrAlreadyExists) {
			t.Fatalf("duplicate insert = %v, want ErrAlreadyExists", got)
		}
		var id string
		err = d.Read.NewSelect().TableExpr("u").Column("id").Where("id = 'zz'").Scan(ctx, &id)
		if got := db.Translate(err); !errors.Is(got, db.ErrNotFound) {
			t.Fatalf("missing row = %v, want ErrNotFound", got)
		}
	})
}

func open(t *testing.T, dialect config.Dialect) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dbtest.Config(t, dialect), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
