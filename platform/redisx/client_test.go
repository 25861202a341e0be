package redisx_test

import (
	"context"
	"testing"

	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

func TestNewClient(t *testing.T) {
	c := redistest.Client(t)
	if err := c.Do(context.Background(), c.B().Ping().Build()).Error(); err != nil {
		t.Fatal(err)
	}
}
