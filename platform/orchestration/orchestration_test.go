package orchestration_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
)

// trace records which hooks ran, in order.
type trace []string

func rule(tr *trace, name string, order int, from, to o.States, before func(t *o.Transition) error) o.Rule {
	return o.Rule{
		Name: name, Order: order, From: from, To: to,
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			*tr = append(*tr, "before:"+name)
			if before != nil {
				return before(t)
			}
			return nil
		},
		After: func(context.Context, *o.Transition, o.Memo) error {
			*tr = append(*tr, "after:"+name)
			return nil
		},
		Cleanup: func(context.Context, *o.Transition, o.Memo) error {
			*tr = append(*tr, "cleanup:"+name)
			return nil
		},
	}
}

func TestApply(t *testing.T) {
	scheduled := &o.State{Type: o.Scheduled, Name: "Scheduled"}
	tests := []struct {
		name       string
		give       func(tr *trace) []o.Rule
		initial    *o.State
		proposed   o.StateType
		wantTrace  []string
		wantStatus o.Status
		wantType   o.StateType // of the validated state
	}{
		{
			name: "accept runs before in order and after in reverse",
			give: func(tr *trace) []o.Rule {
				return []o.Rule{rule(tr, "b", 2, o.All(), o.All(), nil), rule(tr, "a", 1, o.All(), o.All(), nil)}
			},
			initial: &o.State{Type: o.Pending}, proposed: o.Running,
			wantTrace:  []string{"before:a", "before:b", "validate", "after:b", "after:a"},
			wantStatus: o.Accept, wantType: o.Running,
		},
		{
			name: "rules outside FROM/TO do not run",
			give: func(tr *trace) []o.Rule {
				return []o.Rule{rule(tr, "a", 1, o.Of(o.Running), o.All(), nil), rule(tr, "b", 2, o.All(), o.Of(o.Failed), nil)}
			},
			initial: &o.State{Type: o.Pending}, proposed: o.Running,
			wantTrace:  []string{"validate"},
			wantStatus: o.Accept, wantType: o.Running,
		},
		{
			name: "reject with a new state: later rules invalid, earlier fizzle, rejecter does not",
			give: func(tr *trace) []o.Rule {
				return []o.Rule{
					rule(tr, "a", 1, o.All(), o.All(), nil),
					rule(tr, "rejecter", 2, o.All(), o.All(), func(t *o.Transition) error { return t.Reject(scheduled.Copy(), "retry") }),
					rule(tr, "c", 3, o.All(), o.All(), nil),
				}
			},
			initial: &o.State{Type: o.Running}, proposed: o.Failed,
			wantTrace:  []string{"before:a", "before:rejecter", "validate", "after:rejecter", "cleanup:a"},
			wantStatus: o.Reject, wantType: o.Scheduled,
		},
		{
			name: "wait nullifies the transition and keeps the current state",
			give: func(tr *trace) []o.Rule {
				return []o.Rule{rule(tr, "w", 1, o.All(), o.All(), func(t *o.Transition) error { t.Wait(5, "later"); return nil })}
			},
			initial: &o.State{Type: o.Scheduled}, proposed: o.Running,
			wantTrace:  []string{"before:w", "validate", "after:w"},
			wantStatus: o.Wait, wantType: o.Scheduled,
		},
		{
			name: "an error in before aborts",
			give: func(tr *trace) []o.Rule {
				return []o.Rule{rule(tr, "boom", 1, o.All(), o.All(), func(*o.Transition) error { return errors.New("boom") })}
			},
			initial: &o.State{Type: o.Pending}, proposed: o.Running,
			wantTrace:  []string{"before:boom", "validate", "cleanup:boom"},
			wantStatus: o.Abort, wantType: o.Pending,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr trace
			p := o.NewPolicy(tt.give(&tr), nil)
			x := o.NewTransition(o.FlowRun, nil, &o.Run{}, tt.initial, &o.State{Type: tt.proposed})
			err := p.Apply(context.Background(), x, func(_ context.Context, t *o.Transition) error {
				tr = append(tr, "validate")
				t.Validated = t.Proposed
				if t.Validated == nil {
					t.Validated = t.Initial
				}
				return nil
			})
			if err != nil || !reflect.DeepEqual([]string(tr), tt.wantTrace) || x.Status != tt.wantStatus || o.TypeOf(x.Validated) != tt.wantType {
				t.Fatalf("got err %v trace %v status %s validated %s; want trace %v status %s validated %s",
					err, tr, x.Status, o.TypeOf(x.Validated), tt.wantTrace, tt.wantStatus, tt.wantType)
			}
		})
	}
}

func TestRejectWithoutStateNeedsACurrentState(t *testing.T) {
	x := o.NewTransition(o.FlowRun, nil, &o.Run{}, nil, &o.State{Type: o.Running})
	if err := x.Reject(nil, "no"); !errors.Is(err, o.ErrNoStateToKeep) {
		t.Fatalf("Reject(nil) = %v, want ErrNoStateToKeep", err)
	}
}

func TestTransformsRunAfterRulesAndSkipAfterOnError(t *testing.T) {
	var tr trace
	tf := o.Transform{Name: "t",
		Before: func(context.Context, *o.Transition) error { tr = append(tr, "tbefore"); return nil },
		After:  func(context.Context, *o.Transition) error { tr = append(tr, "tafter"); return nil }}
	tests := []struct {
		name string
		give error
		want []string
	}{
		{"ok", nil, []string{"before:r", "tbefore", "tafter", "after:r"}},
		{"error", errors.New("x"), []string{"before:r", "tbefore", "cleanup:r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr = nil
			p := o.NewPolicy([]o.Rule{rule(&tr, "r", 1, o.All(), o.All(), func(*o.Transition) error { return tt.give })}, []o.Transform{tf})
			x := o.NewTransition(o.TaskRun, nil, &o.Run{}, nil, &o.State{Type: o.Pending})
			_ = p.Apply(context.Background(), x, func(context.Context, *o.Transition) error { return nil })
			if !reflect.DeepEqual([]string(tr), tt.want) {
				t.Fatalf("trace %v, want %v", tr, tt.want)
			}
		})
	}
}

func TestContributedRulesArriveThroughFx(t *testing.T) {
	var got o.Contributions
	app := fxtest.New(t,
		fx.Provide(
			o.AsFlowRule(func() o.Rule { return o.Rule{Name: "z", Order: o.OrderSecureFlowConcurrencySlots} }),
			o.AsFlowRule(func() o.Rule { return o.Rule{Name: "a", Order: o.OrderPreventPendingTransitions, Forced: true} }),
			o.AsTaskRule(func() o.Rule { return o.Rule{Name: "t"} }),
		),
		fx.Populate(&got),
	)
	app.RequireStart().RequireStop()
	p := o.NewPolicy(got.FlowRules, got.FlowTransforms)
	if len(p.Rules) != 2 || p.Rules[0].Name != "a" || p.Rules[1].Name != "z" || len(got.TaskRules) != 1 {
		t.Fatalf("flow rules %+v, task rules %+v", p.Rules, got.TaskRules)
	}
	if f := p.Forced(); len(f.Rules) != 1 || f.Rules[0].Name != "a" {
		t.Fatalf("forced policy %+v, want only a", f.Rules)
	}
}
