package workpools_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

// newApp starts workpools with the modules it needs (flow_run table, events).
func newApp(t *testing.T, d config.Dialect, extra ...fx.Option) *platformtest.App {
	return platformtest.New(t, d, append([]fx.Option{flows.Module, runs.Module, events.Module, workpools.Module}, extra...)...)
}

func TestLookupResolve(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		var lookup *workpools.Lookup
		app := newApp(t, d, fx.Populate(&lookup))
		ctx := context.Background()
		resolve := func(pool, queue string) (workpools.QueueRef, error) {
			var ref workpools.QueueRef
			err := app.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				var err error
				ref, err = lookup.Resolve(ctx, tx, pool, queue)
				return err
			})
			return ref, err
		}

		if ref, err := resolve("", ""); err != nil || ref != (workpools.QueueRef{}) {
			t.Fatalf("neither name: %+v, %v; want zero ref", ref, err)
		}
		if _, err := resolve("nope", ""); !errors.Is(err, workpools.ErrPoolNotFound) {
			t.Fatalf("missing pool: %v, want ErrPoolNotFound", err)
		}
		if _, err := resolve("nope", "q"); !errors.Is(err, workpools.ErrPoolNotFound) {
			t.Fatalf("missing pool with queue: %v, want ErrPoolNotFound", err)
		}

		legacy, err := resolve("", "legacy")
		if err != nil || legacy.PoolName != workpools.DefaultAgentPoolName || legacy.QueueName != "legacy" {
			t.Fatalf("queue only: %+v, %v; want legacy in default-agent-pool", legacy, err)
		}
		again, err := resolve("", "legacy")
		if err != nil || again != legacy {
			t.Fatalf("queue only again: %+v, %v; want the same queue %+v", again, err, legacy)
		}
		def, err := resolve("", "default")
		if err != nil || def.PoolID != legacy.PoolID || def.QueueName != "default" {
			t.Fatalf("default queue of the agent pool: %+v, %v", def, err)
		}
		poolDefault, err := resolve(workpools.DefaultAgentPoolName, "")
		if err != nil || poolDefault != def {
			t.Fatalf("pool only: %+v, %v; want its default queue %+v", poolDefault, err, def)
		}
		created, err := resolve(workpools.DefaultAgentPoolName, "made-here")
		if err != nil || created.QueueID == uuid.Nil || created.PoolID != legacy.PoolID {
			t.Fatalf("pool and new queue: %+v, %v", created, err)
		}

		refs, err := lookup.Refs(ctx, app.DB.DB, []uuid.UUID{legacy.QueueID, created.QueueID, uuid.New()})
		if err != nil || len(refs) != 2 || refs[created.QueueID] != created || refs[legacy.QueueID] != legacy {
			t.Fatalf("Refs = %+v, %v", refs, err)
		}
		if _, err := lookup.Find(ctx, app.DB.DB, workpools.DefaultAgentPoolName, "absent"); !errors.Is(err, workpools.ErrQueueNotFound) {
			t.Fatalf("Find of a missing queue: %v, want ErrQueueNotFound", err)
		}
	})
}
