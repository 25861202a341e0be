package orchestration

import (
	"context"
	"fmt"
	"sort"
)

// Policy is an ordered list of rules and the universal transforms that run
// after them (Prefect's CoreFlowPolicy with GlobalFlowPolicy, for example).
type Policy struct {
	Rules      []Rule
	Transforms []Transform
}

// NewPolicy sorts rules and transforms by Order, then by name, so that the
// random order of fx value groups never matters.
func NewPolicy(rules []Rule, transforms []Transform) *Policy {
	p := &Policy{Rules: append([]Rule(nil), rules...), Transforms: append([]Transform(nil), transforms...)}
	sort.SliceStable(p.Rules, func(i, j int) bool {
		if p.Rules[i].Order != p.Rules[j].Order {
			return p.Rules[i].Order < p.Rules[j].Order
		}
		return p.Rules[i].Name < p.Rules[j].Name
	})
	sort.SliceStable(p.Transforms, func(i, j int) bool {
		if p.Transforms[i].Order != p.Transforms[j].Order {
			return p.Transforms[i].Order < p.Transforms[j].Order
		}
		return p.Transforms[i].Name < p.Transforms[j].Name
	})
	return p
}

// Forced is the policy of forced transitions: only the rules marked Forced,
// and every transform.
func (p *Policy) Forced() *Policy {
	var rules []Rule
	for _, r := range p.Rules {
		if r.Forced {
			rules = append(rules, r)
		}
	}
	return &Policy{Rules: rules, Transforms: p.Transforms}
}

// Names lists the rules that govern from -> to, in order
// (compile_transition_rules).
func (p *Policy) Names(from, to StateType) []string {
	var out []string
	for i := range p.Rules {
		if p.Rules[i].From[from] && p.Rules[i].To[to] {
			out = append(out, p.Rules[i].Name)
		}
	}
	return out
}

// Validate writes the proposed state (or, when nullified, keeps the current
// one) and sets t.Validated.
type Validate func(ctx context.Context, t *Transition) error

// Apply governs t: each rule's Before in order, then each transform's
// Before, then validate, then the transforms' and rules' exit hooks in
// reverse order, as Prefect's AsyncExitStack of rule contexts does. An
// error in a rule's Before aborts the transition and is kept in t.Err; an
// error in validate or an exit hook is returned.
func (p *Policy) Apply(ctx context.Context, t *Transition, validate Validate) error {
	from, to := t.InitialType(), t.ProposedType()
	var stack []*entered
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.From[from] || !r.To[to] {
			continue
		}
		e := &entered{rule: r, from: from, to: to, memo: Memo{}}
		e.invalid = e.from != t.InitialType() || e.to != t.ProposedType()
		stack = append(stack, e)
		if e.invalid || r.Before == nil {
			continue
		}
		t.current = e
		err := r.Before(ctx, t, e.memo)
		t.current = nil
		if err != nil {
			t.Proposed = nil
			t.Status = Abort
			t.Details = Details{Type: "abort_details", Reason: fmt.Sprintf("Aborting orchestration due to error in %s: %v", r.Name, err)}
			t.Err = err
		}
	}
	for i := range p.Transforms {
		if b := p.Transforms[i].Before; b != nil {
			if err := b(ctx, t); err != nil {
				return fmt.Errorf("%s: %w", p.Transforms[i].Name, err)
			}
		}
	}
	if err := validate(ctx, t); err != nil {
		return err
	}
	if t.Err == nil {
		for i := len(p.Transforms) - 1; i >= 0; i-- {
			if a := p.Transforms[i].After; a != nil {
				if err := a(ctx, t); err != nil {
					return fmt.Errorf("%s: %w", p.Transforms[i].Name, err)
				}
			}
		}
	}
	for i := len(stack) - 1; i >= 0; i-- {
		e := stack[i]
		if e.invalid {
			continue
		}
		hook := e.rule.After
		if e.from != t.InitialType() || e.to != t.ProposedType() {
			hook = e.rule.Cleanup
		}
		if hook == nil {
			continue
		}
		if err := hook(ctx, t, e.memo); err != nil {
			return fmt.Errorf("%s: %w", e.rule.Name, err)
		}
	}
	return nil
}
