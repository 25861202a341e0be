package events

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/prefect-server/prefect-server/platform/broker"
)

// persisterGroup is the persister's consumer group (Prefect's name).
const persisterGroup = "event-persister"

// persisterConfig shapes the persister.
type persisterConfig struct {
	// batchSize is the most events written in one transaction.
	batchSize int
	// workers consume in parallel (each its own transactions).
	workers int
	// drainTimeout bounds how long stopping waits for published events.
	drainTimeout time.Duration
	trim         trimConfig
}

// persister is the event_persister service: it moves events from the
// broker to the database. Each batch the broker hands over is written in one
// transaction and acknowledged only after the commit, so a failed write
// leaves the batch to be delivered again and nothing is lost; ids already
// stored are skipped, so a redelivery writes nothing twice. Batches are as
// large as the backlog allows (up to batchSize): a short batch means nothing
// else is waiting, so it is written at once rather than after a timer.
type persister struct {
	broker  broker.Broker
	repo    *repo
	backlog backlog
	start   *broker.ReadyGate
	cfg     persisterConfig
	log     *zap.Logger

	active atomic.Int64 // handler calls in flight
	last   atomic.Int64 // unix nanos of the last handler call
}

func (p *persister) Name() string { return "event_persister" }

// Run consumes until ctx is done, then keeps consuming until everything
// published in this process is stored (or the drain timeout passes) and the
// batch in hand is committed.
func (p *persister) Run(ctx context.Context) error {
	p.backlog.activate(true)
	defer p.backlog.activate(false)
	defer p.start.Open() // never hold publishers once this has ended

	subCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var wg, joined sync.WaitGroup
	joined.Add(p.cfg.workers)
	go func() { joined.Wait(); p.start.Open() }()
	errs := make(chan error, p.cfg.workers)
	for range p.cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			ready := func() { once.Do(joined.Done) }
			defer ready()
			opts := broker.SubscribeOptions{Group: persisterGroup, BatchSize: p.cfg.batchSize, Ready: ready}
			if err := p.broker.Subscribe(subCtx, Topic, opts, p.handle); err != nil {
				errs <- err
			}
		}()
	}
	trimDone := make(chan struct{})
	go func() {
		defer close(trimDone)
		p.cfg.trim.loop(ctx, p.repo, p.log)
	}()

	select {
	case err := <-errs:
		stop()
		wg.Wait()
		<-trimDone
		return err
	case <-ctx.Done():
	}
	p.drain()
	stop()
	wg.Wait()
	<-trimDone
	return nil
}

// drain waits until the events published here are stored, or nothing has
// arrived for a moment, or the drain timeout.
func (p *persister) drain() {
	deadline := time.Now().Add(p.cfg.drainTimeout)
	for time.Now().Before(deadline) {
		idle := p.active.Load() == 0 && time.Since(time.Unix(0, p.last.Load())) > 250*time.Millisecond
		if p.backlog.pending() == 0 || idle {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.log.Warn("stopped before every published event was stored", zap.Int("pending", p.backlog.pending()))
}

// handle writes one batch. The write does not stop with the service: a
// batch in hand is committed during shutdown.
func (p *persister) handle(ctx context.Context, batch []broker.Message) error {
	p.active.Add(1)
	defer func() { p.last.Store(time.Now().UnixNano()); p.active.Add(-1) }()
	evs := make([]*Event, 0, len(batch))
	for _, m := range batch {
		var e Event
		if err := json.Unmarshal(m.Data, &e); err != nil || e.Resource.ID() == "" {
			p.log.Error("dropping an undecodable event message", zap.String("message_id", m.ID), zap.Error(err))
			continue
		}
		evs = append(evs, &e)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := p.repo.write(wctx, evs); err != nil {
		if !isDataError(err) {
			p.log.Warn("could not store events; they will be delivered again", zap.Int("count", len(evs)), zap.Error(err))
			return err
		}
		// One event the database refuses (e.g. a \u0000 PostgreSQL cannot
		// keep in JSONB) must not hold back the others forever.
		if err := p.writeEach(wctx, evs); err != nil {
			return err
		}
	}
	p.backlog.done(len(batch))
	return nil
}

func (p *persister) writeEach(ctx context.Context, evs []*Event) error {
	for _, e := range evs {
		if _, err := p.repo.write(ctx, []*Event{e}); err != nil {
			if !isDataError(err) {
				return err
			}
			p.log.Error("dropping an event the database refuses", zap.Stringer("event_id", e.ID), zap.String("event", e.Event), zap.Error(err))
		}
	}
	return nil
}

// isDataError reports an error about the data itself, which retrying cannot fix.
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
