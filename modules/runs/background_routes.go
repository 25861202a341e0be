package runs

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
)

// statusProtocolViolation is the close code Prefect's subscription uses.
const statusProtocolViolation websocket.StatusCode = 4001

// subscriptionPoll is how long a subscription waits for a run before it
// checks that its worker is still there (Prefect's 1 s).
const subscriptionPoll = time.Second

// background serves the task-worker side of background tasks.
type background struct {
	repo    *repo
	queues  *taskQueues
	workers *taskWorkers
	auth    string
	log     *zap.Logger
	// ctx ends every subscription when the server stops; wg waits for them
	// (the HTTP server's Shutdown does not wait for hijacked connections).
	ctx context.Context
	wg  sync.WaitGroup
}

func newBackground(lc fx.Lifecycle, r *repo, q *taskQueues, cfg config.API, log *zap.Logger) *background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{repo: r, queues: q, workers: newTaskWorkers(), auth: cfg.AuthString, log: log.Named("runs.background"), ctx: ctx}
	lc.Append(fx.StopHook(func(stop context.Context) error {
		cancel()
		done := make(chan struct{})
		go func() { b.wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-stop.Done():
			return stop.Err()
		}
	}))
	return b
}

func (b *background) routes() []api.Route {
	return []api.Route{
		{Method: http.MethodGet, Path: "/task_runs/subscriptions/scheduled", Raw: http.HandlerFunc(b.subscribe)},
		{Method: http.MethodPost, Path: "/task_workers/filter", Handler: b.filterWorkers},
	}
}

// filterWorkers serves POST /task_workers/filter.
func (b *background) filterWorkers(w http.ResponseWriter, r *http.Request) error {
	var f *struct {
		TaskKeys *[]string `json:"task_keys"`
	}
	if err := api.DecodeParams(r, api.Params{"task_worker_filter": &f}); err != nil {
		return err
	}
	var keys []string
	if f != nil {
		if f.TaskKeys == nil {
			return &api.ValidationError{Errors: []api.FieldError{{Type: "missing",
				Loc: []any{"body", "task_worker_filter", "task_keys"}, Msg: "Field required", Input: map[string]any{}}}}
		}
		keys = *f.TaskKeys
	}
	return api.WriteJSON(w, http.StatusOK, b.workers.list(keys))
}

// subscribe is the websocket /task_runs/subscriptions/scheduled: after
// {"type": "subscribe", "keys": [...], "client_id": ...} the worker gets
// each queued run of its keys as a TaskRun and answers {"type": "ack"}
// (or "quit"); a run whose delivery fails goes back to its retry queue.
func (b *background) subscribe(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	b.wg.Add(1)
	defer b.wg.Done()
	stop := context.AfterFunc(r.Context(), cancel)
	defer stop()
	conn := api.AcceptPrefectSocket(ctx, w, r, b.auth, nil)
	if conn == nil {
		return
	}
	defer conn.CloseNow()
	var sub struct {
		Type     string   `json:"type"`
		Keys     []string `json:"keys"`
		ClientID string   `json:"client_id"`
	}
	if _, data, err := conn.Read(ctx); err != nil || json.Unmarshal(data, &sub) != nil {
		return
	}
	switch {
	case sub.Type != "subscribe":
		api.CloseSocket(conn, statusProtocolViolation, "Protocol violation: expected 'subscribe' message")
		return
	case len(sub.Keys) == 0:
		api.CloseSocket(conn, statusProtocolViolation, "Protocol violation: expected 'keys' in subscribe message")
		return
	case sub.ClientID == "":
		api.CloseSocket(conn, statusProtocolViolation, "Protocol violation: expected 'client_id' in subscribe message")
		return
	}
	b.log.Info("task worker subscribed", zap.String("client_id", sub.ClientID), zap.Strings("task_keys", sub.Keys))
	defer b.workers.forget(sub.ClientID)
	in := readMessages(ctx, conn)
	for {
		b.workers.observe(sub.Keys, sub.ClientID)
		id, key, ok := b.queues.get(ctx, sub.Keys, subscriptionPoll)
		if !ok {
			if ctx.Err() != nil {
				return
			}
			select {
			case _, open := <-in: // a stray message is ignored, as Prefect's still_connected does
				if !open {
					return
				}
			default:
			}
			continue
		}
		run, err := b.repo.taskRun(ctx, id)
		if err != nil {
			if !isNotFound(err) {
				b.log.Warn("read queued task run", zap.Stringer("task_run_id", id), zap.Error(err))
			}
			continue // deleted since it was queued
		}
		delivered, quit := b.deliver(ctx, conn, in, run)
		if !delivered {
			requeue, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := b.queues.put(requeue, key, id, true); err != nil {
				b.log.Warn("requeue task run", zap.Stringer("task_run_id", id), zap.Error(err))
			}
			done()
			return
		}
		if quit {
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return
		}
		b.workers.observe([]string{key}, sub.ClientID)
	}
}

// readMessages reads the worker's messages until the connection ends, then
// closes the channel.
func readMessages(ctx context.Context, conn *websocket.Conn) <-chan []byte {
	in := make(chan []byte)
	go func() {
		defer close(in)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			select {
			case in <- data:
			case <-ctx.Done():
				return
			}
		}
	}()
	return in
}

// deliver sends a run and waits for the worker's answer: delivered is false
// when the worker went away or broke the protocol before acknowledging it.
func (b *background) deliver(ctx context.Context, conn *websocket.Conn, in <-chan []byte, run *TaskRun) (delivered, quit bool) {
	payload, err := json.Marshal(run)
	if err != nil {
		b.log.Error("encode task run", zap.Error(err))
		return true, false
	}
	if err := conn.Write(ctx, websocket.MessageText, payload); err != nil {
		return false, false
	}
	var data []byte
	select {
	case msg, open := <-in:
		if !open {
			return false, false
		}
		data = msg
	case <-ctx.Done():
		return false, false
	}
	var ack struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(data, &ack)
	switch ack.Type {
	case "ack":
		return true, false
	case "quit":
		return true, true
	}
	api.CloseSocket(conn, statusProtocolViolation, "Protocol violation: expected 'ack' message")
	return false, false
}
