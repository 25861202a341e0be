package deployments

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/db"
)

// deploymentEvents emits the events Prefect's server emits for deployments
// (models/events.py): created, updated (with the changed fields), deleted,
// and ready when a poll finds a deployment not ready. An event that cannot
// be published is logged and never fails the request, as Prefect's
// best-effort events client.
type deploymentEvents struct {
	emitter events.Emitter
	pools   *workpools.Lookup
	log     *zap.Logger
}

type deploymentEventsIn struct {
	fx.In
	Emitter events.Emitter `optional:"true"`
	Pools   *workpools.Lookup
	Log     *zap.Logger
}

func newDeploymentEvents(in deploymentEventsIn) *deploymentEvents {
	return &deploymentEvents{emitter: in.Emitter, pools: in.Pools, log: in.Log.Named("deployments.events")}
}

// eventFields are Prefect's DEPLOYMENT_EVENT_FIELDS, by its ORM names.
func eventFields(d *Deployment) map[string]any {
	return map[string]any{
		"description": d.Description, "tags": d.Tags, "parameters": d.Parameters,
		"parameter_openapi_schema": d.ParameterOpenAPISchema, "enforce_parameter_schema": d.EnforceParameterSchema,
		"entrypoint": d.Entrypoint, "path": d.Path, "pull_steps": d.PullSteps, "work_queue_id": d.WorkQueueID,
		"infra_overrides": d.JobVariables, "paused": d.Paused, "labels": d.Labels, "version": d.Version,
		"concurrency_limit_id": d.ConcurrencyLimitID, "concurrency_options": d.ConcurrencyOptions,
	}
}

// changes compares two snapshots by their JSON forms.
func changes(before, after *Deployment) map[string]any {
	out := map[string]any{}
	b, a := eventFields(before), eventFields(after)
	for k, old := range b {
		ob, _ := json.Marshal(old)
		nb, _ := json.Marshal(a[k])
		var ov, nv any
		_ = json.Unmarshal(ob, &ov)
		_ = json.Unmarshal(nb, &nv)
		if !reflect.DeepEqual(ov, nv) {
			out[k] = map[string]any{"from": ov, "to": nv}
		}
	}
	return out
}

// related is Prefect's _deployment_related_resources: the flow, the work
// queue and its pool.
func (e *deploymentEvents) related(ctx context.Context, idb bun.IDB, d *Deployment) ([]events.Labels, error) {
	out := []events.Labels{}
	var flowName string
	err := idb.NewSelect().Table("flow").Column("name").Where("id = ?", d.FlowID).Scan(ctx, &flowName)
	if err == nil {
		out = append(out, events.L(events.LabelID, events.ResourceID("flow", d.FlowID), events.LabelName, flowName, events.LabelRole, "flow"))
	} else if !isNotFound(db.Translate(err)) {
		return nil, fmt.Errorf("read flow of deployment event: %w", err)
	}
	if d.WorkQueueID == nil {
		return out, nil
	}
	refs, err := e.pools.Refs(ctx, idb, []uuid.UUID{*d.WorkQueueID})
	if err != nil {
		return nil, err
	}
	if ref, ok := refs[*d.WorkQueueID]; ok {
		out = append(out, events.L(events.LabelID, events.ResourceID("work-queue", ref.QueueID), events.LabelName, ref.QueueName, events.LabelRole, "work-queue"))
		if ref.PoolID != uuid.Nil {
			out = append(out, events.L(events.LabelID, events.ResourceID("work-pool", ref.PoolID), events.LabelName, ref.PoolName, events.LabelRole, "work-pool"))
		}
	}
	return out, nil
}

// emit publishes one deployment event (best effort).
func (e *deploymentEvents) emit(ctx context.Context, idb bun.IDB, d *Deployment, name string, payload map[string]any) {
	if e == nil || e.emitter == nil {
		return
	}
	related, err := e.related(ctx, idb, d)
	if err != nil {
		e.log.Warn("deployment event related resources", zap.String("event", name), zap.Error(err))
		return
	}
	ev := &events.Event{Event: name, Resource: events.L(events.LabelID, events.ResourceID("deployment", d.ID), events.LabelName, d.Name),
		Related: related}
	if payload != nil {
		ev.Payload = events.Payload(payload)
	}
	if err := e.emitter.Emit(context.WithoutCancel(ctx), ev); err != nil {
		e.log.Warn("emit deployment event", zap.String("event", name), zap.Error(err))
	}
}

func (e *deploymentEvents) created(ctx context.Context, idb bun.IDB, d *Deployment) {
	e.emit(ctx, idb, d, "prefect.deployment.created", nil)
}

func (e *deploymentEvents) updated(ctx context.Context, idb bun.IDB, before, after *Deployment) {
	changed := changes(before, after)
	if len(changed) == 0 {
		return
	}
	names := make([]string, 0, len(changed))
	for k := range changed {
		names = append(names, k)
	}
	e.emit(ctx, idb, after, "prefect.deployment.updated", map[string]any{"updated_fields": names, "updates": changed})
}

func (e *deploymentEvents) deleted(ctx context.Context, idb bun.IDB, d *Deployment) {
	e.emit(ctx, idb, d, "prefect.deployment.deleted", nil)
}

func (e *deploymentEvents) ready(ctx context.Context, idb bun.IDB, d *Deployment) {
	e.emit(ctx, idb, d, "prefect.deployment.ready", nil)
}

func (e *deploymentEvents) notReady(ctx context.Context, idb bun.IDB, d *Deployment) {
	e.emit(ctx, idb, d, "prefect.deployment.not-ready", nil)
}

// relatedToRuns is the runs module's hook: a flow run's state events name
// its deployment (so that runners and workers see cancellations of the
// runs they run), with the deployment's tags.
func relatedToRuns() runs.RelatedResources {
	return func(ctx context.Context, tx bun.IDB, run runs.RelatedRunRef) ([]events.RelatedObject, error) {
		if run.DeploymentID == nil {
			return nil, nil
		}
		var d Deployment
		err := tx.NewSelect().Model(&d).Column("id", "name", "tags").Where("id = ?", *run.DeploymentID).Scan(ctx)
		if isNotFound(db.Translate(err)) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read deployment of flow run event: %w", err)
		}
		return []events.RelatedObject{{Kind: "deployment", ID: d.ID, Name: d.Name, Tags: d.Tags}}, nil
	}
}
