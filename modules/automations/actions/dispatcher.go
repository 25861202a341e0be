package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/broker"
)

// Topic is the broker topic triggered actions travel on (Prefect's "actions").
const Topic = "actions"

// message is a TriggeredAction as it travels on the broker: Prefect's
// TriggeredAction with its invocation id, given once at dispatch so that a
// redelivered message keeps it (the flow run a run-deployment action creates
// carries it in its idempotency key).
type message struct {
	ID uuid.UUID `json:"id"`
	TriggeredAction
}

// brokerDispatcher publishes triggered actions to the actions topic.
type brokerDispatcher struct {
	broker broker.Broker
	ready  *broker.ReadyGate
}

func newDispatcher(b broker.Broker, g *broker.ReadyGate) *brokerDispatcher {
	return &brokerDispatcher{broker: b, ready: g}
}

// readyLimit bounds how long a dispatch waits for this process's executor
// to subscribe (one that cannot subscribe stops the server).
const readyLimit = 30 * time.Second

// Dispatch returns once the broker has accepted the action.
func (d *brokerDispatcher) Dispatch(ctx context.Context, a TriggeredAction) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("dispatch action: new invocation id: %w", err)
	}
	data, err := json.Marshal(message{ID: id, TriggeredAction: a})
	if err != nil {
		return fmt.Errorf("dispatch action: encode: %w", err)
	}
	if err := d.ready.Wait(ctx, readyLimit); err != nil {
		return fmt.Errorf("dispatch action %d: %w", a.ActionIndex, err)
	}
	msg := broker.Message{Data: data, Attributes: map[string]string{"id": id.String()}}
	if err := d.broker.Publish(ctx, Topic, msg); err != nil {
		return fmt.Errorf("dispatch action %d: %w", a.ActionIndex, err)
	}
	return nil
}
