package orchestration

import "go.uber.org/fx"

// The places of Prefect's core rules in their policies. A module puts its
// rule between two of them, e.g. a deployment concurrency rule at
// OrderSecureFlowConcurrencySlots (after PreventPendingTransitions, before
// CopyScheduledTime), as CoreFlowPolicy.priority() lists them.
const (
	// CoreFlowPolicy.
	OrderPreserveDeploymentConcurrencyLeaseID = 100
	OrderPreventDuplicateTransitions          = 200
	OrderHandleFlowTerminalStateTransitions   = 300
	OrderEnforceCancellingToCancelled         = 400
	OrderBypassCancellingFlowRunsWithNoInfra  = 500
	OrderPreventPendingTransitions            = 600
	OrderValidateDeploymentConcurrency        = 700
	OrderSecureFlowConcurrencySlots           = 800
	OrderRemoveDeploymentConcurrencyLease     = 900
	OrderEnsureOnlyScheduledFlowsMarkedLate   = 1000
	OrderHandlePausingFlows                   = 1100
	OrderHandleResumingPausedFlows            = 1200
	OrderCopyScheduledTime                    = 1300
	OrderWaitForScheduledTime                 = 1400
	OrderRetryFailedFlows                     = 1500
	OrderInstrumentFlowRunStateTransitions    = 1600
	OrderReleaseFlowConcurrencySlots          = 1700

	// CoreTaskPolicy.
	OrderCacheRetrieval                      = 100
	OrderHandleTaskTerminalStateTransitions  = 200
	OrderPreventRunningTasksFromStoppedFlows = 300
	OrderSecureTaskConcurrencySlots          = 400
	OrderTaskCopyScheduledTime               = 500
	OrderTaskWaitForScheduledTime            = 600
	OrderRetryFailedTasks                    = 700
	OrderRenameReruns                        = 800
	OrderUpdateFlowRunTrackerOnTasks         = 900
	OrderCacheInsertion                      = 1000
	OrderReleaseTaskConcurrencySlots         = 1100
)

// Value groups the runs module reads its policies from.
const (
	FlowRulesGroup      = "flow_rules"
	TaskRulesGroup      = "task_rules"
	FlowTransformsGroup = "flow_transforms"
	TaskTransformsGroup = "task_transforms"
)

// AsFlowRule annotates a constructor of Rule into the flow-run policy.
func AsFlowRule(f any) any { return fx.Annotate(f, fx.ResultTags(`group:"`+FlowRulesGroup+`"`)) }

// AsTaskRule annotates a constructor of Rule into the task-run policy.
func AsTaskRule(f any) any { return fx.Annotate(f, fx.ResultTags(`group:"`+TaskRulesGroup+`"`)) }

// AsFlowTransform annotates a constructor of Transform into the flow-run
// universal transforms.
func AsFlowTransform(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+FlowTransformsGroup+`"`))
}

// AsTaskTransform annotates a constructor of Transform into the task-run
// universal transforms.
func AsTaskTransform(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+TaskTransformsGroup+`"`))
}

// Contributions is what the runs module receives from every module.
type Contributions struct {
	fx.In
	FlowRules      []Rule      `group:"flow_rules"`
	TaskRules      []Rule      `group:"task_rules"`
	FlowTransforms []Transform `group:"flow_transforms"`
	TaskTransforms []Transform `group:"task_transforms"`
}
