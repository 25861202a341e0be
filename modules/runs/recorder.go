package runs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"go.uber.org/zap"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
)

// recorderGroup is the recorder's consumer group (Prefect's name).
const recorderGroup = "task-run-recorder"

// envRecorderBatch caps the events handled in one transaction. Prefect's
// default, 1, suits its timer-driven flushes; here a batch is written as soon
// as it is taken, so its size only caps a backlog's batches.
const (
	envRecorderBatch   = "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"
	defaultRecordBatch = 500
)

// recorder is the task_run_recorder service: the Prefect 3 client reports
// task runs only as prefect.task-run.* events, and the recorder turns those
// into task_run rows and their task_run_state history.
//
// Each batch is written in one transaction and acknowledged after the
// commit. Writes are idempotent: a state is keyed by its event's id, and a
// task run's columns change only for a state newer than its current one, so
// a redelivered event changes nothing and events applied in any order leave
// the rows as applying them in causal order does. That is also why, as in
// Prefect 3.9, the recorder does not go through a CausalOrdering: parking an
// early event would only delay it (and, acknowledged but parked in memory,
// risk losing it), for the same final rows.
type recorder struct {
	broker broker.Broker
	db     *db.DB
	batch  int
	log    *zap.Logger
}

func newRecorder(b broker.Broker, d *db.DB, svc config.Services, log *zap.Logger) (*recorder, error) {
	batch, err := svc.Int(envRecorderBatch, defaultRecordBatch)
	if err != nil {
		return nil, err
	}
	return &recorder{broker: b, db: d, batch: max(1, batch), log: log.Named("runs.task_run_recorder")}, nil
}

func (r *recorder) Name() string { return "task_run_recorder" }

// Run consumes the events topic until ctx is done.
func (r *recorder) Run(ctx context.Context) error {
	opts := broker.SubscribeOptions{Group: recorderGroup, BatchSize: r.batch}
	if err := r.broker.Subscribe(ctx, events.Topic, opts, r.handle); err != nil {
		return fmt.Errorf("task run recorder: %w", err)
	}
	return nil
}

// handle records the task-run events of one batch. A batch in hand is
// committed even while the service stops; an error leaves the whole batch
// to be delivered again.
func (r *recorder) handle(ctx context.Context, batch []broker.Message) error {
	recs := make([]*taskRunRecord, 0, len(batch))
	for _, m := range batch {
		if name, ok := m.Attributes["event"]; ok && !strings.HasPrefix(name, "prefect.task-run") {
			continue
		}
		rec, err := decodeTaskRunEvent(m.Data)
		if err != nil {
			r.log.Warn("dropping a task run event that cannot be recorded", zap.String("message_id", m.ID), zap.Error(err))
			continue
		}
		if rec != nil {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	// Oldest state first, as Prefect sorts a flush.
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].state.Timestamp.Before(recs[j].state.Timestamp.Time) })
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := r.write(wctx, recs)
	if err == nil {
		return nil
	}
	if !isDataError(err) {
		r.log.Warn("could not record task runs; the events will be delivered again", zap.Int("count", len(recs)), zap.Error(err))
		return err
	}
	// One event the database refuses (its flow run is gone, say) must not
	// hold back the others forever: Prefect discards it too.
	for _, rec := range recs {
		err := r.write(wctx, []*taskRunRecord{rec})
		switch {
		case err == nil:
		case isDataError(err):
			r.log.Warn("discarding a task run event the database refuses", zap.Stringer("event_id", rec.state.ID),
				zap.Stringer("task_run_id", rec.run.ID), zap.Error(err))
		default:
			return err
		}
	}
	return nil
}

func (r *recorder) write(ctx context.Context, recs []*taskRunRecord) error {
	return r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error { return recordBatch(ctx, tx, recs) })
}

// isDataError reports an error about the data itself (a constraint, a
// value), which delivering the event again cannot fix.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:2]
		return class == "22" || class == "23" || class == "54"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_RANGE:
			return true
		}
	}
	return false
}
