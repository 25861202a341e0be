// Package orchestration is the platform's orchestration-rule extension point:
// Prefect's states, the rules and universal transforms that govern a run's
// state transitions (prefect.server.orchestration.rules), the policy that
// runs them in order, and the fx helpers through which modules contribute
// rules (deployment and tag concurrency, for example) to the flow and task
// policies without the runs module importing them.
package orchestration

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/types"
)

// StateType is Prefect's StateType; the empty value is "no state" (None).
type StateType string

// Prefect's state types.
const (
	None       StateType = ""
	Scheduled  StateType = "SCHEDULED"
	Pending    StateType = "PENDING"
	Running    StateType = "RUNNING"
	Completed  StateType = "COMPLETED"
	Failed     StateType = "FAILED"
	Cancelled  StateType = "CANCELLED"
	Crashed    StateType = "CRASHED"
	Paused     StateType = "PAUSED"
	Cancelling StateType = "CANCELLING"
)

// StateTypes lists the valid types in Prefect's order.
var StateTypes = []StateType{Scheduled, Pending, Running, Completed, Failed, Cancelled, Crashed, Paused, Cancelling}

// Valid reports whether t is one of Prefect's state types.
func (t StateType) Valid() bool {
	for _, s := range StateTypes {
		if s == t {
			return true
		}
	}
	return false
}

// Final reports whether t is terminal (TERMINAL_STATES).
func (t StateType) Final() bool {
	return t == Completed || t == Failed || t == Cancelled || t == Crashed
}

// DefaultName is the name Prefect gives a state of type t ("Cancelling").
func (t StateType) DefaultName() string {
	if t == None {
		return ""
	}
	s := strings.ToLower(string(t))
	return strings.ToUpper(s[:1]) + s[1:]
}

// States is a set of state types, as a rule's FROM_STATES and TO_STATES.
type States map[StateType]bool

// Of builds a set.
func Of(ts ...StateType) States {
	s := States{}
	for _, t := range ts {
		s[t] = true
	}
	return s
}

// All is ALL_ORCHESTRATION_STATES: every type and "no state".
func All() States { return Of(append([]StateType{None}, StateTypes...)...) }

// Terminal is TERMINAL_STATES.
func Terminal() States { return Of(Completed, Failed, Cancelled, Crashed) }

// Except returns the set without ts.
func (s States) Except(ts ...StateType) States {
	out := States{}
	for t := range s {
		out[t] = true
	}
	for _, t := range ts {
		delete(out, t)
	}
	return out
}

// StateDetails is Prefect's StateDetails; every key is always written.
type StateDetails struct {
	FlowRunID                    *uuid.UUID        `json:"flow_run_id"`
	TaskRunID                    *uuid.UUID        `json:"task_run_id"`
	ChildFlowRunID               *uuid.UUID        `json:"child_flow_run_id"`
	ScheduledTime                *types.DateTime   `json:"scheduled_time"`
	CacheKey                     *string           `json:"cache_key"`
	CacheExpiration              *types.DateTime   `json:"cache_expiration"`
	Deferred                     *bool             `json:"deferred"`
	UntrackableResult            bool              `json:"untrackable_result"`
	PauseTimeout                 *types.DateTime   `json:"pause_timeout"`
	PauseReschedule              bool              `json:"pause_reschedule"`
	PauseKey                     *string           `json:"pause_key"`
	RunInputKeyset               map[string]string `json:"run_input_keyset"`
	RefreshCache                 *bool             `json:"refresh_cache"`
	Retriable                    *bool             `json:"retriable"`
	TransitionID                 *uuid.UUID        `json:"transition_id"`
	TaskParametersID             *uuid.UUID        `json:"task_parameters_id"`
	Traceparent                  *string           `json:"traceparent"`
	DeploymentConcurrencyLeaseID *uuid.UUID        `json:"deployment_concurrency_lease_id"`
}

// MarshalJSON writes deferred as false when unset, as Prefect's default.
func (d StateDetails) MarshalJSON() ([]byte, error) {
	type plain StateDetails
	p := plain(d)
	if p.Deferred == nil {
		f := false
		p.Deferred = &f
	}
	return json.Marshal(p)
}

// State is Prefect's State as the API returns it.
type State struct {
	ID           uuid.UUID       `json:"id"`
	Type         StateType       `json:"type"`
	Name         string          `json:"name"`
	Timestamp    types.DateTime  `json:"timestamp"`
	Message      *string         `json:"message"`
	Data         json.RawMessage `json:"data"`
	StateDetails StateDetails    `json:"state_details"`
}

// TypeOf is the type of s, None for a nil state.
func TypeOf(s *State) StateType {
	if s == nil {
		return None
	}
	return s.Type
}

// Copy returns a deep enough copy for a rule to change freely.
func (s *State) Copy() *State {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// HasPersistedResult is Prefect's _has_persisted_result: the data is result
// metadata (a JSON object) whose type is not "unpersisted".
func HasPersistedResult(data json.RawMessage) bool {
	var m map[string]any
	if len(data) == 0 || json.Unmarshal(data, &m) != nil || m == nil {
		return false
	}
	return m["type"] != "unpersisted"
}

// Status is Prefect's SetStateStatus.
type Status string

// The orchestration outcomes.
const (
	Accept Status = "ACCEPT"
	Reject Status = "REJECT"
	Wait   Status = "WAIT"
	Abort  Status = "ABORT"
)

// Details is Prefect's StateResponseDetails union, tagged by type.
type Details struct {
	Type         string `json:"type"`
	Reason       string `json:"reason,omitempty"`
	DelaySeconds *int   `json:"delay_seconds,omitempty"`
}

// MarshalJSON writes the keys each variant of the union has.
func (d Details) MarshalJSON() ([]byte, error) {
	switch d.Type {
	case "accept_details", "":
		return []byte(`{"type":"accept_details"}`), nil
	case "wait_details":
		delay := 0
		if d.DelaySeconds != nil {
			delay = *d.DelaySeconds
		}
		return json.Marshal(map[string]any{"type": d.Type, "delay_seconds": delay, "reason": nullable(d.Reason)})
	}
	return json.Marshal(map[string]any{"type": d.Type, "reason": nullable(d.Reason)})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Result is Prefect's OrchestrationResult, the body of a set_state response.
type Result struct {
	State   *State  `json:"state"`
	Status  Status  `json:"status"`
	Details Details `json:"details"`
}
