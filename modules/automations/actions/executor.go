package actions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/services"
)

// consumerGroup is the executor's consumer group on the actions topic.
const consumerGroup = "actions"

// maxAttempts bounds the deliveries of an action that keeps failing
// unexpectedly (an API error status where Prefect raises, an event that
// cannot be emitted): after them it is dropped with an error log, as a
// broker's dead-letter queue would take it.
const maxAttempts = 3

// happenedTTL is how long an executed action is remembered, so that a
// redelivered message does not run it twice (Prefect keeps an hour).
const happenedTTL = time.Hour

// executor is the actions service: it consumes triggered actions from the
// broker and carries each out, then emits its action events.
type executor struct {
	broker  broker.Broker
	api     *apiClient
	emitter events.Emitter
	enabled bool
	ready   *broker.ReadyGate
	log     *zap.Logger

	happened *ttlSet
	mu       sync.Mutex
	attempts map[string]int
}

// envTriggersEnabled switches the actions consumer off with the triggers
// service, as Prefect's Actions service reads the triggers settings.
const envTriggersEnabled = "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"

func newExecutor(b broker.Broker, h http.Handler, em events.Emitter, g *broker.ReadyGate, svc config.Services, log *zap.Logger) (*executor, error) {
	on, err := svc.Enabled(envTriggersEnabled, true)
	if err != nil {
		return nil, err
	}
	self, err := svc.Enabled(services.SettingName(serviceName), true)
	if err != nil {
		return nil, err
	}
	on = on && self
	if on && svc.RunServices {
		g.Expect()
	}
	return &executor{broker: b, api: &apiClient{handler: h}, emitter: em, enabled: on, ready: g,
		log: log.Named("automations.actions"), happened: newTTLSet(happenedTTL, 10_000), attempts: map[string]int{}}, nil
}

// Name is the service's name; it is switched with the triggers service
// (PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED) as in Prefect, and with
// PREFECT_SERVER_SERVICES_ACTIONS_ENABLED alone.
func (x *executor) Name() string { return serviceName }

const serviceName = "actions"

// Run consumes the actions topic until ctx is done.
func (x *executor) Run(ctx context.Context) error {
	if !x.enabled {
		<-ctx.Done()
		return nil
	}
	opts := broker.SubscribeOptions{Group: consumerGroup, Ready: x.ready.Open}
	if err := x.broker.Subscribe(ctx, Topic, opts, x.handle); err != nil {
		return fmt.Errorf("actions consumer: %w", err)
	}
	return nil
}

// handle runs the actions of a batch; an error leaves the batch to be
// delivered again.
func (x *executor) handle(ctx context.Context, batch []broker.Message) error {
	for _, m := range batch {
		if len(m.Data) == 0 {
			continue
		}
		inv, err := decodeInvocation(m.Data)
		if err != nil {
			x.log.Error("dropping a triggered action that cannot be read", zap.String("message_id", m.ID), zap.Error(err))
			continue
		}
		if err := x.execute(context.WithoutCancel(ctx), inv); err != nil {
			return err
		}
	}
	return nil
}

// execute carries out one triggered action: it returns nil once the action
// has run or failed for good, and an error when it should be tried again.
func (x *executor) execute(ctx context.Context, inv *invocation) error {
	key := inv.dedupKey()
	if x.happened.has(key) {
		x.log.Info("action has already been executed, skipping", zap.String("key", key))
		return nil
	}
	err := x.act(ctx, inv)
	var af *actionFailed
	switch {
	case err == nil:
		if err := x.emitOutcome(ctx, inv, "prefect.automation.action.executed", ""); err != nil {
			return x.retry(key, err)
		}
		x.happened.add(key)
	case errors.As(err, &af):
		x.log.Warn("Action failed", zap.String("reason", af.reason), zap.Stringer("automation", inv.automation.ID),
			zap.String("action_type", inv.spec.Type), zap.Int("action_index", inv.msg.ActionIndex))
		if err := x.emitOutcome(ctx, inv, "prefect.automation.action.failed", af.reason); err != nil {
			return x.retry(key, err)
		}
	default:
		return x.retry(key, err)
	}
	x.forgetAttempts(key)
	return nil
}

// act runs the action's code. A panic in it (a bug) fails the action
// instead of taking the server down.
func (x *executor) act(ctx context.Context, inv *invocation) (err error) {
	run, ok := actions[inv.spec.Type]
	if !ok {
		return failed("Unknown action type %s", pyRepr(inv.spec.Type))
	}
	defer func() {
		if v := recover(); v != nil {
			x.log.Error("action panicked", zap.String("action_type", inv.spec.Type), zap.Any("panic", v), zap.Stack("stack"))
			err = failed("Unexpected error in %s action", pyRepr(inv.spec.Type))
		}
	}()
	return run(ctx, x, inv)
}

// retry counts a failed attempt and asks for redelivery, until maxAttempts.
func (x *executor) retry(key string, err error) error {
	x.mu.Lock()
	x.attempts[key]++
	n := x.attempts[key]
	x.mu.Unlock()
	if n >= maxAttempts {
		x.log.Error("giving up on a triggered action", zap.String("key", key), zap.Int("attempts", n), zap.Error(err))
		x.forgetAttempts(key)
		return nil
	}
	x.log.Warn("triggered action failed; it will be delivered again", zap.String("key", key), zap.Int("attempt", n), zap.Error(err))
	return err
}

func (x *executor) forgetAttempts(key string) {
	x.mu.Lock()
	delete(x.attempts, key)
	x.mu.Unlock()
}
