// Package redistest gives tests a Redis client and a key prefix of their own.
// Tests that need Redis are skipped unless PREFECT_TEST_REDIS_URL is set.
package redistest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"

	"github.com/prefect-server/prefect-server/platform/redisx"
)

// EnvURL names the variable holding the test server's URL.
const EnvURL = "PREFECT_TEST_REDIS_URL"

// Client connects to the test Redis, or skips the test when EnvURL is unset.
// The client is closed when the test ends.
func Client(t testing.TB) rueidis.Client {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		t.Skip(EnvURL + " is not set")
	}
	c, err := redisx.NewClient(redisx.Options{URL: url})
	if err != nil {
		t.Fatalf("redis client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Prefix returns a key prefix unique to this test; the keys under it are
// deleted when the test ends (before the client is closed, when Client was
// called first).
func Prefix(t testing.TB, c rueidis.Client) string {
	t.Helper()
	prefix := "test:" + uuid.NewString() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := deleteKeys(ctx, c, prefix); err != nil {
			t.Errorf("delete test keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

func deleteKeys(ctx context.Context, c rueidis.Client, prefix string) error {
	cursor := uint64(0)
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				return err
			}
		}
		if e.Cursor == 0 {
			return nil
		}
		cursor = e.Cursor
	}
}
