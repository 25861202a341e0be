package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
)

// RelatedRunRef is what a flow run's state-change event knows of the run
// when it asks other modules for the run's related resources.
type RelatedRunRef struct {
	ID              uuid.UUID
	FlowID          uuid.UUID
	DeploymentID    *uuid.UUID
	WorkQueueID     *uuid.UUID
	WorkQueueName   *string
	ParentTaskRunID *uuid.UUID
}

// RelatedResources returns the objects a flow run relates to that a module
// owns (the deployments module its deployment, the work-pools module its
// work queue and pool), read in the state's transaction. Their tags become
// the event's tag resources, as Prefect's resource data does.
type RelatedResources func(ctx context.Context, tx bun.IDB, run RelatedRunRef) ([]events.RelatedObject, error)

// relatedResourcesGroup is the fx value group of RelatedResources.
const relatedResourcesGroup = "runs.related_resources"

// AsRelatedResources annotates a constructor returning RelatedResources
// into the group the flow-run state events read.
func AsRelatedResources(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+relatedResourcesGroup+`"`))
}

// relatedKindOrder is Prefect's order of related objects
// (models/events._as_resource_data); other kinds follow, by name.
var relatedKindOrder = map[string]int{"flow": 0, "deployment": 1, "work-queue": 2, "work-pool": 3, "task-run": 4}

// truncateStateMessagesAt is Prefect's TRUNCATE_STATE_MESSAGES_AT.
const truncateStateMessagesAt = 100_000

// tightTiming is how close a state change must follow the previous one for
// its event to name it in follows (Prefect's _timing_is_tight).
const tightTiming = 5 * time.Minute

// stateEvents builds the prefect.flow-run.<State> events of state changes
// and emits them once their transaction has committed.
type stateEvents struct {
	emitter events.Emitter
	related []RelatedResources
	log     *zap.Logger
}

type stateEventsIn struct {
	fx.In
	// Emitter is optional so that the runs module can be tested with the
	// modules it needs alone; every build has the events module.
	Emitter events.Emitter     `optional:"true"`
	Related []RelatedResources `group:"runs.related_resources"`
	Log     *zap.Logger
}

func newStateEvents(in stateEventsIn) *stateEvents {
	return &stateEvents{emitter: in.Emitter, related: in.Related, log: in.Log.Named("runs.events")}
}

// outbox holds the events of one transaction, and what else must wait for
// its commit, until it commits.
type outbox struct {
	mu     sync.Mutex
	events []*events.Event
	after  []func(ctx context.Context) error
}

// afterCommit queues fn to run once the transaction has committed.
func (b *outbox) afterCommit(fn func(ctx context.Context) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.after = append(b.after, fn)
}

type outboxKey struct{}

func withOutbox(ctx context.Context) (context.Context, *outbox) {
	box := &outbox{}
	return context.WithValue(ctx, outboxKey{}, box), box
}

// add queues an event in ctx's outbox. Without one (a caller that does not
// emit) the event is dropped.
func (b *outbox) add(e *events.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
}

// flush emits the queued events; a failure is logged, not returned: the
// state change it describes is already committed.
func (s *stateEvents) flush(ctx context.Context, box *outbox) {
	if s == nil || len(box.events) == 0 {
		return
	}
	if err := s.emitter.Emit(context.WithoutCancel(ctx), box.events...); err != nil {
		s.log.Warn("emit flow run state events", zap.Int("events", len(box.events)), zap.Error(err))
	}
	box.events = nil
}

// record builds the event of a flow run's validated state change (Prefect's
// InstrumentFlowRunStateTransitions) and queues it in ctx's outbox.
func (s *stateEvents) record(ctx context.Context, tx bun.IDB, run *FlowRun, t *o.Transition) error {
	box, _ := ctx.Value(outboxKey{}).(*outbox)
	if s == nil || s.emitter == nil || box == nil || t.Nullified() || t.Validated == nil {
		return nil
	}
	related, err := s.relatedResources(ctx, tx, run)
	if err != nil {
		return err
	}
	v := t.Validated
	msg := ""
	if v.Message != nil {
		msg = truncated(*v.Message)
	}
	e := &events.Event{
		Occurred: v.Timestamp,
		Event:    "prefect.flow-run." + v.Name,
		Resource: events.L(events.LabelID, events.ResourceID("flow-run", run.ID), events.LabelName, run.Name,
			"prefect.run-count", strconv.Itoa(run.RunCount), "prefect.state-message", msg,
			"prefect.state-name", v.Name, "prefect.state-timestamp", pyISOFormat(v.Timestamp.Time),
			"prefect.state-type", string(v.Type)),
		Related: related,
		Payload: events.Payload(map[string]any{
			"intended":        map[string]any{"from": stateTypeOrNil(t.Initial), "to": string(v.Type)},
			"initial_state":   statePayload(t.Initial),
			"validated_state": statePayload(v),
		}),
		ID: v.ID,
	}
	if in := t.Initial; in != nil {
		if d := v.Timestamp.Sub(in.Timestamp.Time); d > -tightTiming && d < tightTiming {
			id := in.ID
			e.Follows = &id
		}
	}
	box.add(e)
	return nil
}

// relatedResources are the flow, the contributed objects, the parent task
// run, their tags and the run's creator, in Prefect's order.
func (s *stateEvents) relatedResources(ctx context.Context, tx bun.IDB, run *FlowRun) ([]events.Labels, error) {
	objs := []events.RelatedObject{{Kind: "flow-run", ID: run.ID, Name: run.Name, Tags: run.Tags}}
	var flow struct {
		Name string   `bun:"name"`
		Tags []string `bun:"tags"`
	}
	err := tx.NewSelect().Table("flow").Column("name", "tags").Where("id = ?", run.FlowID).Scan(ctx, &flow)
	if err == nil {
		objs = append(objs, events.RelatedObject{Kind: "flow", ID: run.FlowID, Name: flow.Name, Tags: flow.Tags})
	} else if !isNotFound(db.Translate(err)) {
		return nil, fmt.Errorf("read flow of flow run event: %w", err)
	}
	if run.ParentTaskRunID != nil {
		var tr TaskRun
		err := tx.NewSelect().Model(&tr).Column("id", "name", "tags").Where("id = ?", *run.ParentTaskRunID).Scan(ctx)
		if err == nil {
			objs = append(objs, events.RelatedObject{Kind: "task-run", ID: tr.ID, Name: tr.Name, Tags: tr.Tags})
		} else if !isNotFound(db.Translate(err)) {
			return nil, fmt.Errorf("read parent task run of flow run event: %w", err)
		}
	}
	ref := RelatedRunRef{ID: run.ID, FlowID: run.FlowID, DeploymentID: run.DeploymentID, WorkQueueID: run.WorkQueueID,
		WorkQueueName: run.WorkQueueName, ParentTaskRunID: run.ParentTaskRunID}
	for _, f := range s.related {
		more, err := f(ctx, tx, ref)
		if err != nil {
			return nil, fmt.Errorf("related resources of flow run %s: %w", run.ID, err)
		}
		objs = append(objs, more...)
	}
	sort.SliceStable(objs, func(i, j int) bool { return kindRank(objs[i].Kind) < kindRank(objs[j].Kind) })
	return append(events.RelatedResources(objs, "flow-run"), creatorResource(run.CreatedBy)...), nil
}

func kindRank(kind string) int {
	if r, ok := relatedKindOrder[kind]; ok {
		return r
	}
	return len(relatedKindOrder)
}

// creatorResource is Prefect's _provenance_as_related_resources: a
// deployment or automation that created the run.
func creatorResource(raw rawJSON) []events.Labels {
	if len(raw) == 0 {
		return nil
	}
	var c struct {
		ID           *uuid.UUID `json:"id"`
		Type         *string    `json:"type"`
		DisplayValue *string    `json:"display_value"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Type == nil || c.ID == nil {
		return nil
	}
	var kind string
	switch *c.Type {
	case "DEPLOYMENT":
		kind = "deployment"
	case "AUTOMATION":
		kind = "automation"
	default:
		return nil
	}
	l := events.L(events.LabelID, events.ResourceID(kind, *c.ID), events.LabelRole, "creator")
	if c.DisplayValue != nil && *c.DisplayValue != "" {
		l.Set(events.LabelName, *c.DisplayValue)
	}
	return []events.Labels{l}
}

// statePayload is Prefect's state_payload: the string parts of a state.
func statePayload(s *o.State) map[string]string {
	if s == nil {
		return nil
	}
	p := map[string]string{"type": string(s.Type)}
	if s.Name != "" {
		p["name"] = s.Name
	}
	if s.Message != nil && *s.Message != "" {
		p["message"] = truncated(*s.Message)
	}
	if s.Type == o.Paused {
		p["pause_reschedule"] = strconv.FormatBool(s.StateDetails.PauseReschedule)
	}
	return p
}

func stateTypeOrNil(s *o.State) any {
	if s == nil {
		return nil
	}
	return string(s.Type)
}

// truncated is Prefect's truncated_to(TRUNCATE_STATE_MESSAGES_AT, value).
func truncated(v string) string {
	r := []rune(v)
	if len(r) <= truncateStateMessagesAt {
		return v
	}
	half := truncateStateMessagesAt / 2
	omitted := len(r) - 2*half
	out := string(r[:half]) + "..." + strconv.Itoa(omitted) + " additional characters..." + string(r[len(r)-half:])
	if len([]rune(out)) < len(r) {
		return out
	}
	return v
}

// pyISOFormat is Python's datetime.isoformat() of a UTC time.
func pyISOFormat(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// tx runs fn in a transaction and emits the flow-run state events it
// recorded once it has committed.
func (r *repo) tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	ctx, box := withOutbox(ctx)
	if err := r.db.Tx(ctx, fn); err != nil {
		return err
	}
	r.events.flush(ctx, box)
	for _, after := range box.after {
		if err := after(ctx); err != nil {
			return fmt.Errorf("after commit: %w", err)
		}
	}
	return nil
}
