package services

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

type fake struct {
	name string
	run  func(ctx context.Context) error
}

func (f fake) Name() string                  { return f.name }
func (f fake) Run(ctx context.Context) error { return f.run(ctx) }

func waitCtx(ctx context.Context) error { <-ctx.Done(); return nil }

func TestRunnerHonoursEnabledSwitches(t *testing.T) {
	enabled := func(setting string, def bool) (bool, error) {
		return setting != "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", nil
	}
	r, err := NewRunner([]Service{fake{"late_runs", waitCtx}, fake{"foreman", waitCtx}}, enabled, zap.NewNop(), func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); len(got) != 1 || got[0] != "foreman" {
		t.Fatalf("running = %v, want [foreman]", got)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestFailingServiceStopsTheApp(t *testing.T) {
	failed := make(chan error, 1)
	boom := errors.New("boom")
	r, err := NewRunner([]Service{fake{"x", func(context.Context) error { return boom }}},
		func(string, bool) (bool, error) { return true, nil }, zap.NewNop(), func(err error) { failed <- err })
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Start(context.Background())
	select {
	case err := <-failed:
		if !errors.Is(err, boom) {
			t.Fatalf("fail(%v), want boom", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failing service did not stop the app")
	}
	_ = r.Stop(context.Background())
}

func TestEveryTicksUntilStopped(t *testing.T) {
	var ticks atomic.Int32
	s := Every("loop", time.Millisecond, zap.NewNop(), func(context.Context) error {
		ticks.Add(1)
		return errors.New("a failing tick is retried, not fatal")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	for ticks.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
}

func TestDuplicateNamesAreRefused(t *testing.T) {
	_, err := NewRunner([]Service{fake{"a", waitCtx}, fake{"a", waitCtx}},
		func(string, bool) (bool, error) { return true, nil }, zap.NewNop(), func(error) {})
	if err == nil {
		t.Fatal("two services with one name were accepted")
	}
}
