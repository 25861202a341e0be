package events

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/types"
)

// Emitter publishes the events the server itself emits (prefect.flow-run.*,
// prefect.deployment.*, ...), exactly as events from clients are published:
// the persister stores them and /events/out streams them.
type Emitter interface {
	// Emit publishes events. An unset id gets a new one, an unset occurred
	// time is now; received is always now.
	Emit(ctx context.Context, evs ...*Event) error
}

// emitter is the Emitter of this module.
type emitter struct{ pub *publisher }

func (m *emitter) Emit(ctx context.Context, evs ...*Event) error {
	now := types.Now()
	for _, e := range evs {
		if e.ID == uuid.Nil {
			e.ID = newEventID()
		}
		if e.Occurred.IsZero() {
			e.Occurred = now
		}
		e.Received = now
		if e.Event == "" || e.Resource.ID() == "" {
			return fmt.Errorf("emit event %s: an event needs a name and a resource with %s", e.ID, LabelID)
		}
		for _, r := range e.Related {
			if r.ID() == "" || r.Role() == "" {
				return fmt.Errorf("emit event %s: related resources need %s and %s", e.ID, LabelID, LabelRole)
			}
		}
	}
	return m.pub.publish(ctx, evs)
}

// newEventID is a time-ordered id (Prefect's uuid7), falling back to a random one.
func newEventID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}

// ResourceID is a Prefect object's resource id, e.g. "prefect.flow-run.<id>".
func ResourceID(kind string, id uuid.UUID) string { return "prefect." + kind + "." + id.String() }

// RelatedObject is an object related to an event, as Prefect's resource
// data describes it (prefect.server.models.events).
type RelatedObject struct {
	Kind string // flow, flow-run, deployment, work-queue, work-pool, task-run, ...
	ID   uuid.UUID
	Name string
	Role string // defaults to Kind
	Tags []string
	// Extra labels, e.g. prefect.work-pool.type for a work pool.
	Extra Labels
}

// RelatedResources builds an event's related resources as Prefect's
// _resource_data_as_related_resources: one per object whose kind is not
// excluded, then one per tag of any object (sorted, once each, role "tag").
func RelatedResources(objs []RelatedObject, excludeKinds ...string) []Labels {
	out := []Labels{}
	tags := map[string]bool{}
	for _, o := range objs {
		for _, t := range o.Tags {
			tags[t] = true
		}
		excluded := false
		for _, k := range excludeKinds {
			excluded = excluded || k == o.Kind
		}
		if excluded {
			continue
		}
		role := o.Role
		if role == "" {
			role = o.Kind
		}
		l := L(LabelID, ResourceID(o.Kind, o.ID), LabelRole, role, LabelName, o.Name)
		for _, x := range o.Extra {
			l.Set(x.Key, x.Value)
		}
		out = append(out, l)
	}
	sorted := make([]string, 0, len(tags))
	for t := range tags {
		sorted = append(sorted, t)
	}
	sort.Strings(sorted)
	for _, t := range sorted {
		out = append(out, L(LabelID, "prefect.tag."+t, LabelRole, "tag"))
	}
	return out
}
