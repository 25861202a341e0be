package automations

import (
	"context"
	"encoding/json"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
)

// lifecycle emits Prefect's prefect.automation.created/updated/deleted
// events, whose payload is the automation as the API returns it.
type lifecycle struct {
	emitter events.Emitter
	log     *zap.Logger
}

type lifecycleIn struct {
	fx.In
	// Emitter is optional so that the module can be tested alone.
	Emitter events.Emitter `optional:"true"`
	Log     *zap.Logger
}

func newLifecycle(in lifecycleIn) *lifecycle {
	return &lifecycle{emitter: in.Emitter, log: in.Log.Named("automations")}
}

// emit reports a change; a failure is logged, as the change is already made.
func (l *lifecycle) emit(ctx context.Context, action string, as ...Automation) {
	if l.emitter == nil || len(as) == 0 {
		return
	}
	evs := make([]*events.Event, 0, len(as))
	for i := range as {
		a := &as[i]
		payload, err := json.Marshal(a)
		if err != nil {
			l.log.Warn("cannot encode an automation for its event", zap.Stringer("automation_id", a.ID), zap.Error(err))
			continue
		}
		evs = append(evs, &events.Event{
			Event:    "prefect.automation." + action,
			Resource: events.L(events.LabelID, events.ResourceID("automation", a.ID), events.LabelName, a.Name),
			Payload:  payload,
		})
	}
	if err := l.emitter.Emit(context.WithoutCancel(ctx), evs...); err != nil {
		l.log.Warn("cannot emit automation events", zap.String("event", "prefect.automation."+action), zap.Error(err))
	}
}
