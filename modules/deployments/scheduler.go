package deployments

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/services"
	"github.com/prefect-server/prefect-server/platform/types"
)

// schedulerConfig is PREFECT_SERVER_SERVICES_SCHEDULER_*.
type schedulerConfig struct {
	loop, recentLoop                   time.Duration
	batchSize, insertBatch             int
	maxRuns, minRuns                   int
	maxScheduledTime, minScheduledTime time.Duration
}

func newSchedulerConfig(s config.Services) (schedulerConfig, error) {
	const p = "PREFECT_SERVER_SERVICES_SCHEDULER_"
	var c schedulerConfig
	var errs [8]error
	c.loop, errs[0] = s.Duration(p+"LOOP_SECONDS", 60*time.Second)
	c.recentLoop, errs[1] = s.Duration(p+"RECENT_DEPLOYMENTS_LOOP_SECONDS", 5*time.Second)
	c.batchSize, errs[2] = s.Int(p+"DEPLOYMENT_BATCH_SIZE", 100)
	c.insertBatch, errs[3] = s.Int(p+"INSERT_BATCH_SIZE", 500)
	c.maxRuns, errs[4] = s.Int(p+"MAX_RUNS", 100)
	c.minRuns, errs[5] = s.Int(p+"MIN_RUNS", 3)
	c.maxScheduledTime, errs[6] = s.Duration(p+"MAX_SCHEDULED_TIME", 100*24*time.Hour)
	c.minScheduledTime, errs[7] = s.Duration(p+"MIN_SCHEDULED_TIME", time.Hour)
	for _, err := range errs {
		if err != nil {
			return c, err
		}
	}
	if c.loop <= 0 || c.recentLoop <= 0 || c.batchSize <= 0 || c.insertBatch <= 0 {
		return c, fmt.Errorf("%sLOOP_SECONDS, RECENT_DEPLOYMENTS_LOOP_SECONDS, DEPLOYMENT_BATCH_SIZE and INSERT_BATCH_SIZE must be positive", p)
	}
	return c, nil
}

// scheduler creates the scheduled runs of deployments ahead of time, as
// Prefect's scheduler services do. Runs carry the idempotency key
// "scheduled {deployment} {schedule} {date}", so overlapping loops, the API's
// /schedule and restarts never make a run twice.
type scheduler struct {
	db   *db.DB
	runs *runs.FlowRunCreator
	cfg  schedulerConfig
	log  *zap.Logger
}

func newScheduler(d *db.DB, fr *runs.FlowRunCreator, cfg schedulerConfig, log *zap.Logger) *scheduler {
	return &scheduler{db: d, runs: fr, cfg: cfg, log: log.Named("scheduler")}
}

// service is Prefect's two scheduler services in one (both switched by
// PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED): every loop, the deployments
// whose active schedules run short of runs; every recent-deployments loop,
// those updated since, so that a new schedule gets runs at once.
func (s *scheduler) service() services.Service { return &schedulerService{s: s} }

type schedulerService struct{ s *scheduler }

func (*schedulerService) Name() string { return "scheduler" }

func (svc *schedulerService) Run(ctx context.Context) error {
	s := svc.s
	main := time.NewTicker(s.cfg.loop)
	defer main.Stop()
	recent := time.NewTicker(s.cfg.recentLoop)
	defer recent.Stop()
	query := s.needingRuns
	for {
		if err := s.pass(ctx, query); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler loop failed; retrying next interval", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-main.C:
			query = s.needingRuns
		case <-recent.C:
			query = s.recentlyUpdated
		}
	}
}

// pass schedules every deployment the query selects, a batch at a time.
func (s *scheduler) pass(ctx context.Context, query func(after uuid.UUID) *bun.SelectQuery) error {
	last := uuid.Nil
	total := 0
	for {
		var ids []uuid.UUID
		if err := query(last).Scan(ctx, &ids); err != nil {
			return fmt.Errorf("select deployments to schedule: %w", err)
		}
		for _, id := range ids {
			n, err := s.scheduleDeployment(ctx, id, s.defaults(time.Now()))
			if err != nil {
				s.log.Error("schedule deployment", zap.Stringer("deployment_id", id), zap.Error(err))
				continue
			}
			total += n
		}
		if len(ids) < s.cfg.batchSize {
			break
		}
		last = ids[len(ids)-1]
	}
	if total > 0 {
		s.log.Info("scheduled runs", zap.Int("runs", total))
	}
	return nil
}

// needingRuns selects deployments having an active schedule with fewer than
// min_runs future auto-scheduled runs, or whose last one is sooner than
// min_scheduled_time (Prefect's per-schedule check).
func (s *scheduler) needingRuns(after uuid.UUID) *bun.SelectQuery {
	now := types.Now()
	horizon := types.From(now.Add(s.cfg.minScheduledTime))
	scheduleID := "json_extract(fr.created_by, '$.id') = ds.id"
	if s.db.IsPostgres() {
		scheduleID = "fr.created_by->>'id' = ds.id::text"
	}
	runsOf := "FROM flow_run AS fr WHERE fr.deployment_id = ds.deployment_id AND fr.state_type = 'SCHEDULED'" +
		" AND fr.next_scheduled_start_time >= ? AND fr.auto_scheduled = ? AND " + scheduleID
	needs := "EXISTS (SELECT 1 FROM deployment_schedule AS ds WHERE ds.deployment_id = deployment.id AND ds.active = ?" +
		" AND ((SELECT COUNT(*) " + runsOf + ") < ? OR (SELECT MAX(fr.next_scheduled_start_time) " + runsOf + ") < ?" +
		"))"
	q := s.db.Read.NewSelect().Table("deployment").Column("deployment.id").
		Where("deployment.paused = ?", false).
		Where(needs, true, now, true, s.cfg.minRuns, now, true, horizon)
	return s.page(q, after)
}

// recentlyUpdated selects deployments updated within the last loop that
// have an active schedule.
func (s *scheduler) recentlyUpdated(after uuid.UUID) *bun.SelectQuery {
	since := types.From(time.Now().Add(-s.cfg.recentLoop - time.Second))
	q := s.db.Read.NewSelect().Table("deployment").Column("deployment.id").
		Where("deployment.paused = ?", false).
		Where("deployment.updated >= ?", since).
		Where("EXISTS (SELECT 1 FROM deployment_schedule AS ds WHERE ds.deployment_id = deployment.id AND ds.active = ?)", true)
	return s.page(q, after)
}

func (s *scheduler) page(q *bun.SelectQuery, after uuid.UUID) *bun.SelectQuery {
	if after != uuid.Nil {
		q = q.Where("deployment.id > ?", after)
	}
	return q.OrderExpr("deployment.id").Limit(int64(s.cfg.batchSize))
}

// scheduleRequest is schedule_runs' window and counts.
type scheduleRequest struct {
	start, end       time.Time
	minTime          time.Duration
	minRuns, maxRuns int
}

func (s *scheduler) defaults(now time.Time) scheduleRequest {
	return scheduleRequest{start: now, end: now.Add(s.cfg.maxScheduledTime), minTime: s.cfg.minScheduledTime,
		minRuns: s.cfg.minRuns, maxRuns: s.cfg.maxRuns}
}

// scheduleDeployment creates the runs of the deployment's active schedules
// in the window (Prefect's schedule_runs) and returns how many were new.
func (s *scheduler) scheduleDeployment(ctx context.Context, id uuid.UUID, req scheduleRequest) (int, error) {
	var d Deployment
	err := s.db.Read.NewSelect().Model(&d).Relation("Schedules", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("deployment_schedule.active = ?", true).Order("deployment_schedule.updated DESC")
	}).Where("deployment.id = ?", id).Scan(ctx)
	if err != nil {
		return 0, fmt.Errorf("read deployment %s: %w", id, db.Translate(err))
	}
	planned := s.plan(&d, req)
	inserted := 0
	for start := 0; start < len(planned); start += s.cfg.insertBatch {
		batch := planned[start:min(start+s.cfg.insertBatch, len(planned))]
		err := s.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
			for _, run := range batch {
				_, isNew, err := s.runs.CreateIn(ctx, tx, run)
				if err != nil {
					return err
				}
				if isNew {
					inserted++
				}
			}
			return nil
		})
		if err != nil {
			return inserted, fmt.Errorf("insert scheduled runs of deployment %s: %w", id, err)
		}
	}
	return inserted, nil
}

// plan is Prefect's _generate_scheduled_flow_runs.
func (s *scheduler) plan(d *Deployment, req scheduleRequest) []runs.NewFlowRun {
	var out []runs.NewFlowRun
	tags := append([]string{"auto-scheduled"}, d.Tags...)
	labels := runLabels(d, nil)
	for _, ds := range d.Schedules {
		dates := ds.Schedule.Dates(req.maxRuns, req.start, req.end, func(count int, t time.Time) bool {
			return count >= req.minRuns && !t.Before(req.start.Add(req.minTime))
		})
		params := map[string]any{}
		for k, v := range d.Parameters {
			params[k] = v
		}
		for k, v := range ds.Parameters {
			params[k] = v
		}
		display := ds.Schedule.name()
		if ds.Slug != nil && *ds.Slug != "" {
			display = *ds.Slug
		}
		for _, date := range dates {
			key := fmt.Sprintf("scheduled %s %s %s", d.ID, ds.ID, pythonStr(date))
			when := types.From(date)
			msg := "Flow run scheduled"
			out = append(out, runs.NewFlowRun{
				FlowID: d.FlowID, DeploymentID: &d.ID, DeploymentVersion: d.Version, Parameters: params,
				WorkQueueName: d.WorkQueueName, WorkQueueID: d.WorkQueueID, InfrastructureDocumentID: d.InfrastructureDocumentID,
				IdempotencyKey: &key, Tags: tags, Labels: labels, AutoScheduled: true,
				CreatedBy: map[string]any{"id": ds.ID.String(), "display_value": display, "type": "SCHEDULE"},
				State: &o.State{Type: o.Scheduled, Name: "Scheduled", Timestamp: types.Now(), Message: &msg,
					StateDetails: o.StateDetails{ScheduledTime: &when}},
			})
		}
	}
	return out
}
