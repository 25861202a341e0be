package automations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/services"
)

// Settings of the triggers service (Prefect's names and defaults).
const (
	envProactiveGranularity = "PREFECT_SERVER_EVENTS_PROACTIVE_GRANULARITY"
	envExpiredBucketBuffer  = "PREFECT_SERVER_EVENTS_EXPIRED_BUCKET_BUFFER"
	envTriggersBatch        = "PREFECT_SERVER_SERVICES_TRIGGERS_READ_BATCH_SIZE"
	triggersGroup           = "reactive-triggers"
	// reloadEvery bounds how stale the loaded automations may be when
	// another process changed them (changes made here reload at once).
	reloadEvery = 5 * time.Second
)

// engine is the triggers service (Prefect's ReactiveTriggers and the
// periodic proactive evaluation in one): it reads every event from the
// broker, counts the events of interested triggers in buckets, evaluates
// proactive triggers on a timer, and acts on firings: it emits
// prefect.automation.triggered and hands each action to the dispatcher.
type engine struct {
	repo        *repo
	db          *db.DB
	broker      broker.Broker
	emitter     events.Emitter
	dispatcher  Dispatcher
	granularity time.Duration
	buffer      time.Duration
	batch       int
	log         *zap.Logger

	mu       sync.Mutex
	loaded   []*loaded
	gen      uint64
	loadedAt time.Time
	next     map[uuid.UUID]time.Time // when each proactive trigger is due
}

type engineIn struct {
	fx.In
	Repo       *repo
	DB         *db.DB
	Broker     broker.Broker
	Services   config.Services
	Emitter    events.Emitter `optional:"true"`
	Dispatcher Dispatcher     `optional:"true"`
	Log        *zap.Logger
}

func newEngine(in engineIn) (*engine, error) {
	granularity, err := in.Services.Duration(envProactiveGranularity, 5*time.Second)
	if err != nil {
		return nil, err
	}
	buffer, err := in.Services.Duration(envExpiredBucketBuffer, time.Minute)
	if err != nil {
		return nil, err
	}
	batch, err := in.Services.Int(envTriggersBatch, 100)
	if err != nil {
		return nil, err
	}
	return &engine{repo: in.Repo, db: in.DB, broker: in.Broker, emitter: in.Emitter, dispatcher: in.Dispatcher,
		granularity: max(granularity, 100*time.Millisecond), buffer: buffer, batch: max(1, batch),
		log: in.Log.Named("automations.triggers"), gen: ^uint64(0), next: map[uuid.UUID]time.Time{}}, nil
}

func (e *engine) Name() string { return "triggers" }

var _ services.Service = (*engine)(nil)

// Run consumes events and evaluates proactive triggers until ctx is done.
func (e *engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.proactiveLoop(ctx)
	}()
	err := e.broker.Subscribe(ctx, events.Topic, broker.SubscribeOptions{Group: triggersGroup, BatchSize: e.batch}, e.handle)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("reactive triggers: %w", err)
	}
	return nil
}

// automations returns the enabled automations, reloaded after a change made
// here or when the loaded set may be stale.
func (e *engine) automations(ctx context.Context) []*loaded {
	e.mu.Lock()
	defer e.mu.Unlock()
	gen := e.repo.generation.Load()
	if gen == e.gen && time.Since(e.loadedAt) < reloadEvery {
		return e.loaded
	}
	as, err := e.repo.enabled(ctx)
	if err != nil {
		e.log.Warn("cannot load automations; keeping the ones loaded", zap.Error(err))
		return e.loaded
	}
	out := make([]*loaded, 0, len(as))
	for _, a := range as {
		l, err := load(a)
		if err != nil {
			e.log.Warn("skipping an automation that cannot be decoded", zap.Stringer("automation_id", a.ID), zap.Error(err))
			continue
		}
		out = append(out, l)
	}
	e.loaded, e.gen, e.loadedAt = out, gen, time.Now()
	return out
}

// handle evaluates the interested triggers for each event of a batch.
func (e *engine) handle(ctx context.Context, batch []broker.Message) error {
	as := e.automations(ctx)
	if len(as) == 0 {
		return nil
	}
	for _, m := range batch {
		var ev events.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			e.log.Warn("skipping an event that cannot be decoded", zap.String("message_id", m.ID), zap.Error(err))
			continue
		}
		for _, a := range as {
			for _, t := range a.root.eventTriggers() {
				if !t.covers(&ev) {
					continue
				}
				err := e.evaluateInTx(ctx, func(ctx context.Context, x *evaluation) error { return x.reactive(ctx, t, &ev) })
				if err != nil {
					e.log.Warn("cannot evaluate a trigger for an event", zap.Stringer("automation_id", a.automation.ID),
						zap.Stringer("trigger_id", t.ID), zap.Stringer("event_id", ev.ID), zap.Error(err))
				}
			}
		}
	}
	return nil
}

// evaluateInTx runs an evaluation in one transaction, then acts on the
// automations that fired.
func (e *engine) evaluateInTx(ctx context.Context, fn func(context.Context, *evaluation) error) error {
	var fired []*firing
	err := e.db.Tx(context.WithoutCancel(ctx), func(ctx context.Context, tx bun.Tx) error {
		x := &evaluation{b: buckets{tx: tx}, tx: tx}
		if err := fn(ctx, x); err != nil {
			return err
		}
		fired = x.firings
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range fired {
		e.act(context.WithoutCancel(ctx), f)
	}
	return nil
}

// proactiveLoop evaluates due proactive triggers every granularity and
// sweeps buckets whose window closed long enough ago.
func (e *engine) proactiveLoop(ctx context.Context) {
	tick := time.NewTicker(e.granularity)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		for _, a := range e.automations(ctx) {
			for _, t := range a.root.eventTriggers() {
				if t.reactive() || e.next[t.ID].After(now) {
					continue
				}
				var again time.Time
				err := e.evaluateInTx(ctx, func(ctx context.Context, x *evaluation) error {
					var err error
					again, err = x.proactive(ctx, t, now)
					return err
				})
				if err != nil {
					e.log.Warn("cannot evaluate a proactive trigger", zap.Stringer("automation_id", a.automation.ID),
						zap.Stringer("trigger_id", t.ID), zap.Error(err))
					continue
				}
				e.next[t.ID] = again
			}
		}
		err := e.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error { return buckets{tx: tx}.sweep(ctx, now.Add(-e.buffer)) })
		if err != nil && ctx.Err() == nil {
			e.log.Warn("cannot sweep closed buckets", zap.Error(err))
		}
	}
}

// act is Prefect's act: emit the automation's prefect.automation.triggered
// event, then queue each action, those of actions_on_trigger with the
// triggered event as their triggering event.
func (e *engine) act(ctx context.Context, f *firing) {
	a := f.trigger.owner
	state := stateChangeEvent(f)
	e.log.Info("automation triggered", zap.Stringer("automation_id", a.automation.ID), zap.String("automation", a.automation.Name),
		zap.Any("triggering_labels", f.TriggeringLabels))
	if e.emitter != nil {
		if err := e.emitter.Emit(ctx, state); err != nil {
			e.log.Warn("cannot emit prefect.automation.triggered", zap.Stringer("automation_id", a.automation.ID), zap.Error(err))
		}
	}
	if e.dispatcher == nil {
		return
	}
	automation := mustJSON(a.automation)
	firingJSON := mustJSON(f)
	type source struct {
		event  *events.Event
		action json.RawMessage
	}
	var sources []source
	for _, act := range a.actions {
		sources = append(sources, source{f.TriggeringEvent, act})
	}
	for _, act := range a.onTrigger {
		sources = append(sources, source{state, act})
	}
	for i, s := range sources {
		ta := TriggeredAction{Automation: automation, Firing: firingJSON, Triggered: f.Triggered.Time,
			TriggeringLabels: f.TriggeringLabels, Action: s.action, ActionIndex: i}
		if s.event != nil {
			ta.TriggeringEvent = mustJSON(s.event)
		}
		if err := e.dispatcher.Dispatch(ctx, ta); err != nil {
			e.log.Warn("cannot queue an automation's action", zap.Stringer("automation_id", a.automation.ID),
				zap.Int("action_index", i), zap.String("action", strings.TrimSpace(string(s.action))), zap.Error(err))
		}
	}
}
