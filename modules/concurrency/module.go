// Package concurrency is the concurrency-limits feature, as Prefect 3.9.1 has
// it: global limits (/v2/concurrency_limits: CRUD, taking and giving back
// slots with or without a lease, renewing leases, rate limits whose slots
// decay), the v1 tag-limit routes (/concurrency_limits) served by global
// limits named "tag:<tag>", and the repossessor service that gives back the
// slots of expired leases; and, through the platform's orchestration hook,
// the task policy's tag concurrency (SecureTaskConcurrencySlots and
// ReleaseTaskConcurrencySlots, task_rules.go).
//
// Taking slots is one conditional UPDATE of every named limit in one
// transaction (rows locked in id order on PostgreSQL; SQLite's single writer
// serialises). The same transaction records the lease's slots in
// concurrency_lease_hold under a lease id chosen beforehand; the lease is
// stored in lease storage after the commit (if that fails, the slots are
// given back). Giving slots back deletes that row in the transaction that
// decrements, so each lease gives its slots back exactly once. A row whose
// lease is missing from lease storage (a crash between the commit and the
// lease, or memory leases lost in a restart) is given back by the
// repossessor after a grace period; see repossessor.go.
//
// Where we differ from Prefect, on purpose:
//   - the holds above: Prefect leaks the slots of a lease it never stored or
//     lost, and may give a lease's slots back twice (a release racing the
//     repossessor); a lease gives back the slots it took, even from a limit
//     deactivated since (Prefect skips inactive limits and leaks those);
//   - a 423 also writes the decayed active slots before it resets the decay
//     clock (updated), so that denied retries cannot stall a rate limit;
//   - increment-with-lease with no existing limit answers a fresh lease id
//     without storing an empty lease (tagged tasks without limits, often);
//   - v1 reset gives back the slots of the leases it revokes and zeroes
//     active_slots (Prefect revokes and leaves the slots taken); v1 delete
//     gives back the other limits' slots of the leases it revokes;
//   - a v1 tag with a character Names refuse is a 422, not a 500;
//   - a task run's tag slots are taken and given back in the transaction
//     that writes its state (Prefect takes them in a session of its own),
//     and a limit of 0 aborts before any slot is taken (Prefect may take the
//     other tags' slots after aborting and leak them);
//   - no concurrency-limit events are emitted yet (no events module).
//
// Routes: routes.go (limits), routes_slots.go (slots and leases),
// routes_v1.go (tag limits). Task-run rules: task_rules.go. Slots: slots.go
// and sql.go. Storage: repo.go and migrations/.
package concurrency

import (
	"embed"
	"fmt"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/leases"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/orchestration"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the concurrency-limits feature.
var Module = fx.Module("concurrency",
	fx.Provide(
		fx.Private,
		newSettings,
		newLeaseStore,
		func(d *db.DB, s settings) *repo { return &repo{db: d, sql: newSQL(d, s)} },
		newSlots,
	),
	fx.Provide(
		newDeploymentSlots,
		platform.AsRoutes(newRoutes),
		platform.AsService(newRepossessor),
		orchestration.AsTaskRule(secureTaskConcurrencySlots),
		orchestration.AsTaskTransform(releaseTaskConcurrencySlots),
		platform.AsMigrations(func() migrate.Set {
			return migrate.Set{Module: "concurrency", FS: migrationsFS, Dir: "migrations"}
		}),
	),
)

// settings are the Prefect settings this module reads.
type settings struct {
	// TagWait caps the Retry-After of tag limits
	// (PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS, default 10).
	TagWait time.Duration
	// MaxWait caps it for other limits
	// (PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS, default 30).
	MaxWait time.Duration
	// Loop is the repossessor's interval
	// (PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS, default 15).
	Loop time.Duration
	// SharedLeases is true when lease storage outlives this process and is
	// seen by every server (Redis); memory leases live in the API process.
	SharedLeases bool
	// RunAPI is false in a services-only process.
	RunAPI bool
}

func newSettings(svc config.Services, cc config.Concurrency) (settings, error) {
	s := settings{SharedLeases: cc.LeaseStorage == config.KindRedis, RunAPI: svc.RunAPI}
	var err error
	if s.TagWait, err = svc.Duration("PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS", 10*time.Second); err != nil {
		return s, err
	}
	if s.MaxWait, err = svc.Duration("PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS", 30*time.Second); err != nil {
		return s, err
	}
	if s.Loop, err = svc.Duration("PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS", 15*time.Second); err != nil {
		return s, err
	}
	if s.Loop <= 0 {
		return s, fmt.Errorf("PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS: must be positive")
	}
	return s, nil
}

// leaseStore is lease storage that also stores a lease under a chosen id.
type leaseStore interface {
	leases.Storage
	leases.IDCreator
}

func newLeaseStore(s leases.Storage) (leaseStore, error) {
	ls, ok := s.(leaseStore)
	if !ok {
		return nil, fmt.Errorf("concurrency: lease storage %T cannot store a lease under a chosen id", s)
	}
	return ls, nil
}

func newSlots(r *repo, ls leaseStore, s settings, log *zap.Logger) *slots {
	return &slots{repo: r, leases: ls, settings: s, log: log.Named("concurrency")}
}
