package automations

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/events"
)

// precedingEventLookback is how far before an event its bucket may start
// (Prefect's PRECEDING_EVENT_LOOKBACK), so that events arriving slightly out
// of order still count.
const precedingEventLookback = 15 * time.Minute

// evaluation is one evaluation of triggers in a transaction; the firings of
// whole automations are collected and acted on after the commit.
type evaluation struct {
	b       buckets
	tx      bun.IDB
	firings []*firing
}

// reactive is Prefect's reactive_evaluation for one interested trigger.
func (ev *evaluation) reactive(ctx context.Context, t *trigger, e *events.Event) error {
	key := t.bucketingKey(e)
	occurred := e.Occurred.Time
	var b *bucket
	var err error
	if len(t.After) > 0 && t.startsAfter(e.Event) {
		initial := 0
		if t.expects(e.Event) {
			initial = -1
		}
		if b, err = ev.b.ensure(ctx, t, key, occurred, occurred.Add(t.within()), e, initial); err != nil {
			return err
		}
	}
	if b == nil && len(t.After) == 0 && t.expects(e.Event) {
		if b, err = ev.b.ensure(ctx, t, key, occurred.Add(-precedingEventLookback), occurred.Add(t.within()), e, 0); err != nil {
			return err
		}
	}
	if !t.expects(e.Event) {
		return nil
	}
	if b == nil {
		if b, err = ev.b.read(ctx, t, key); err != nil || b == nil {
			return err
		}
	}
	_, err = ev.evaluate(ctx, t, b, occurred, e)
	return err
}

// evaluate is Prefect's evaluate: count the event into the bucket, fire
// when the trigger's condition holds, and roll the window on.
func (ev *evaluation) evaluate(ctx context.Context, t *trigger, b *bucket, now time.Time, triggering *events.Event) (*bucket, error) {
	count := 0
	if triggering != nil {
		count = 1
	}
	if now.Before(b.Start.Time) {
		return b, nil // a late event
	}
	previousLast := b.lastEvent()
	var err error
	if count > 0 && (t.immediate() || (!now.Before(b.Start.Time) && now.Before(b.End.Time))) {
		if b, err = ev.b.increment(ctx, b, t, count, triggering); err != nil {
			return nil, err
		}
		count = 0
	}
	readyToFire := t.reactive() || !b.End.Time.After(now)
	meets := t.meetsThreshold(b.Count)
	switch {
	case readyToFire && meets:
		last := triggering
		if last == nil {
			last = b.lastEvent()
		}
		if err := ev.fire(ctx, newFiring(t, t.triggeringLabels(b.key()), last, nil)); err != nil {
			return nil, err
		}
		if err := ev.b.remove(ctx, t, b.key()); err != nil {
			return nil, err
		}
	case now.Before(b.End.Time):
		if triggering != nil && !t.reactive() && !meets && t.startsAfter(triggering.Event) && t.expects(triggering.Event) {
			if err := ev.b.remove(ctx, t, b.key()); err != nil {
				return nil, err
			}
			last := triggering
			if previousLast != nil && t.expects(previousLast.Event) && !t.startsAfter(previousLast.Event) &&
				!previousLast.Occurred.Before(triggering.Occurred.Time) {
				last = previousLast
			}
			occurred := triggering.Occurred.Time
			return ev.b.startNew(ctx, t, b.key(), occurred, occurred.Add(t.within()), 0, last)
		}
		return b, nil
	}
	if len(t.After) > 0 {
		return nil, ev.b.remove(ctx, t, b.key())
	}
	if t.within() == 0 {
		return nil, nil
	}
	start := b.End.Time
	if now.After(start) {
		start = now
	}
	end := start.Add(t.within())
	if t.reactive() && count > 0 {
		nb, err := ev.b.startNew(ctx, t, b.key(), start, end, 0, nil)
		if err != nil {
			return nil, err
		}
		return ev.evaluate(ctx, t, nb, now, triggering)
	}
	return ev.b.startNew(ctx, t, b.key(), start, end, count, nil)
}

// proactive is Prefect's proactive_evaluation of one trigger as of now; it
// returns when the trigger should be evaluated again.
func (ev *evaluation) proactive(ctx context.Context, t *trigger, asOf time.Time) (time.Time, error) {
	runAgain := asOf.Add(t.within())
	if len(t.ForEach) == 0 {
		if _, err := ev.b.ensure(ctx, t, []string{}, asOf, asOf.Add(t.within()), nil, 0); err != nil {
			return runAgain, err
		}
	}
	if err := ev.b.removeExceeding(ctx, t); err != nil {
		return runAgain, err
	}
	bs, err := ev.b.readAll(ctx, t)
	if err != nil {
		return runAgain, err
	}
	for i := range bs {
		next, err := ev.evaluate(ctx, t, &bs[i], asOf, nil)
		if err != nil {
			return runAgain, err
		}
		if next != nil && asOf.Before(next.End.Time) && next.End.Time.Before(runAgain) {
			runAgain = next.End.Time
		}
	}
	return runAgain, nil
}
