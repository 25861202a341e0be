// Package services runs the background services that modules contribute
// (schedulers, persisters, cleanup loops), each one stoppable and waited for.
package services

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Service is a long-running background job. Run returns when ctx is done
// (nil) or when the service cannot go on (an error, which stops the server).
type Service interface {
	// Name is Prefect's name for the service in snake case, e.g. "late_runs";
	// PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED switches it.
	Name() string
	Run(ctx context.Context) error
}

// EnabledFunc says whether a service runs, from its ENABLED setting.
type EnabledFunc func(setting string, def bool) (bool, error)

// Runner starts the enabled services and stops them all together.
type Runner struct {
	services []Service
	log      *zap.Logger
	// fail is called when a service returns an error (it stops the app).
	fail   func(error)
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// SettingName is the environment switch of a service.
func SettingName(service string) string {
	return "PREFECT_SERVER_SERVICES_" + strings.ToUpper(service) + "_ENABLED"
}

// NewRunner keeps the services that are enabled (all of them by default).
func NewRunner(all []Service, enabled EnabledFunc, log *zap.Logger, fail func(error)) (*Runner, error) {
	r := &Runner{log: log, fail: fail}
	names := map[string]bool{}
	for _, s := range all {
		if names[s.Name()] {
			return nil, fmt.Errorf("two background services are named %q", s.Name())
		}
		names[s.Name()] = true
		on, err := enabled(SettingName(s.Name()), true)
		if err != nil {
			return nil, err
		}
		if on {
			r.services = append(r.services, s)
		}
	}
	sort.Slice(r.services, func(i, j int) bool { return r.services[i].Name() < r.services[j].Name() })
	return r, nil
}

// Names lists the services that will run.
func (r *Runner) Names() []string {
	out := make([]string, len(r.services))
	for i, s := range r.services {
		out[i] = s.Name()
	}
	return out
}

// Start runs every service in its own goroutine.
func (r *Runner) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for _, s := range r.services {
		r.wg.Add(1)
		go func(s Service) {
			defer r.wg.Done()
			log := r.log.With(zap.String("service", s.Name()))
			log.Debug("service started")
			err := s.Run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				log.Error("service failed", zap.Error(err))
				r.fail(fmt.Errorf("service %s: %w", s.Name(), err))
				return
			}
			log.Debug("service stopped")
		}(s)
	}
	return nil
}

// Stop cancels every service and waits for them, or for ctx.
func (r *Runner) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop services: %w", ctx.Err())
	}
}

// Every makes a service that calls tick every interval (and once at start).
// A failing tick is logged and retried at the next interval; only a
// cancelled context ends the service.
func Every(name string, interval time.Duration, log *zap.Logger, tick func(ctx context.Context) error) Service {
	return &periodic{name: name, interval: interval, tick: tick, log: log}
}

type periodic struct {
	name     string
	interval time.Duration
	tick     func(ctx context.Context) error
	log      *zap.Logger
}

func (p *periodic) Name() string { return p.name }

func (p *periodic) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		if err := p.tick(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("service loop failed; retrying next interval", zap.String("service", p.name), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
