package orchestration

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/types"
)

// FlowRunPolicy is Prefect's FlowRunPolicy (a flow run's empirical_policy).
type FlowRunPolicy struct {
	MaxRetries        int      `json:"max_retries"`
	RetryDelaySeconds float64  `json:"retry_delay_seconds"`
	Retries           *int     `json:"retries"`
	RetryDelay        *int     `json:"retry_delay"`
	PauseKeys         []string `json:"pause_keys"`
	Resuming          bool     `json:"resuming"`
	RetryType         *string  `json:"retry_type"`
}

// TaskRunPolicy is Prefect's TaskRunPolicy. RetryDelay is a number or a
// list of numbers.
type TaskRunPolicy struct {
	MaxRetries        int             `json:"max_retries"`
	RetryDelaySeconds float64         `json:"retry_delay_seconds"`
	Retries           *int            `json:"retries"`
	RetryDelay        json.RawMessage `json:"retry_delay"`
	RetryJitterFactor *float64        `json:"retry_jitter_factor"`
}

// Kind says whether a transition is a flow run's or a task run's.
type Kind string

// The two kinds of run.
const (
	FlowRun Kind = "flow_run"
	TaskRun Kind = "task_run"
)

// Run is what rules may read and change of the run being orchestrated (the
// ORM run of Prefect's context). The runs module writes the changes back
// with the validated state.
type Run struct {
	ID                uuid.UUID
	FlowID            uuid.UUID  // flow runs
	FlowRunID         *uuid.UUID // task runs
	DeploymentID      *uuid.UUID
	ParentTaskRunID   *uuid.UUID
	InfrastructurePID *string
	Tags              []string
	// TaskKey and CacheKey are set for task runs.
	TaskKey                string
	RunCount               int
	FlowRunRunCount        int
	ExpectedStartTime      *types.DateTime
	NextScheduledStartTime *types.DateTime
	StartTime              *types.DateTime
	EndTime                *types.DateTime
	// TotalRunTime is in seconds.
	TotalRunTime float64
	FlowPolicy   FlowRunPolicy // flow runs
	TaskPolicy   TaskRunPolicy // task runs
}

// ParentFlowRun is what task rules see of a task run's flow run.
type ParentFlowRun struct {
	ID       uuid.UUID
	RunCount int
	State    *State
}

// Transition is Prefect's OrchestrationContext: the run, its initial and
// proposed states, and the response being built.
type Transition struct {
	Kind    Kind
	Tx      bun.IDB // the transaction the transition is written in
	Run     *Run
	Initial *State
	// Proposed is the state to write; nil once a rule rejects without a
	// state, delays or aborts (the transition is nullified).
	Proposed  *State
	Validated *State
	Status    Status
	Details   Details
	// Parameters pass values between rules (Prefect's context.parameters);
	// "api-version" and "client-version" are set from the request headers.
	Parameters map[string]any
	// FlowRun reads the task run's flow run (nil, nil when it has none).
	FlowRun func(ctx context.Context) (*ParentFlowRun, error)
	// Err is the error that aborted the transition, reported to the caller.
	Err error

	current *entered // the rule whose Before is running
}

// NewTransition starts a transition proposing proposed over initial.
func NewTransition(kind Kind, tx bun.IDB, run *Run, initial, proposed *State) *Transition {
	return &Transition{Kind: kind, Tx: tx, Run: run, Initial: initial, Proposed: proposed,
		Status: Accept, Details: Details{Type: "accept_details"}, Parameters: map[string]any{}}
}

// InitialType and ProposedType are the transition's current state types.
func (t *Transition) InitialType() StateType  { return TypeOf(t.Initial) }
func (t *Transition) ProposedType() StateType { return TypeOf(t.Proposed) }

// Nullified reports whether no state will be written.
func (t *Transition) Nullified() bool { return t.Proposed == nil }

// ErrNoStateToKeep is returned by Reject(nil) on a run that has no state.
var ErrNoStateToKeep = errors.New("the current run has no state; this transition cannot be rejected without providing a new state")

// Reject replaces the proposed state with state, or with none (the run keeps
// its current state) when state is nil (reject_transition).
func (t *Transition) Reject(state *State, reason string) error {
	if state == nil {
		if t.Initial == nil {
			return ErrNoStateToKeep
		}
		t.retarget(None)
	} else {
		if state.Name == "" {
			state.Name = state.Type.DefaultName()
		}
		t.retarget(state.Type)
	}
	t.Proposed = state
	t.Status, t.Details = Reject, Details{Type: "reject_details", Reason: reason}
	return nil
}

// Wait tells the client to retry the transition in delay seconds
// (delay_transition).
func (t *Transition) Wait(delay int, reason string) {
	t.retarget(None)
	t.Proposed = nil
	t.Status, t.Details = Wait, Details{Type: "wait_details", Reason: reason, DelaySeconds: &delay}
}

// Abort ends orchestration of the run (abort_transition).
func (t *Transition) Abort(reason string) {
	t.retarget(None)
	t.Proposed = nil
	t.Status, t.Details = Abort, Details{Type: "abort_details", Reason: reason}
}

// Rename sets the proposed state's name (rename_state).
func (t *Transition) Rename(name string) {
	if t.Proposed != nil {
		t.Proposed.Name = name
	}
}

// retarget keeps the rule that changed the transition from fizzling.
func (t *Transition) retarget(to StateType) {
	if t.current != nil {
		t.current.to = to
	}
}

// Rule is Prefect's BaseOrchestrationRule: it governs the transitions from
// a type in From to a type in To. Before may reject, delay, abort or rename
// the proposed state and change the run. After runs when the transition it
// saw was written; Cleanup runs instead when a later rule changed the
// transition (the rule "fizzled"), to undo Before's side effects.
type Rule struct {
	Name string
	// Order places the rule in its policy (ascending); see the Order* values.
	Order int
	// Forced also runs the rule on forced transitions (MinimalFlowPolicy).
	Forced  bool
	From    States
	To      States
	Before  func(ctx context.Context, t *Transition, memo Memo) error
	After   func(ctx context.Context, t *Transition, memo Memo) error
	Cleanup func(ctx context.Context, t *Transition, memo Memo) error
}

// Memo is one rule's scratch space for one transition (Prefect keeps such
// values on the rule instance, e.g. the run count Cleanup restores).
type Memo map[string]any

// Transform is Prefect's BaseUniversalTransform: bookkeeping that runs on
// every transition, after the rules, nearest to the write. Each hook checks
// t.Nullified itself, as Prefect's do. After is skipped when the
// transition failed with an error.
type Transform struct {
	Name   string
	Order  int
	Before func(ctx context.Context, t *Transition) error
	After  func(ctx context.Context, t *Transition) error
}

// entered is a rule on the exit stack of one transition.
type entered struct {
	rule     *Rule
	from, to StateType
	invalid  bool
	memo     Memo
}
