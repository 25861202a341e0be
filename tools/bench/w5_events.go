package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

const ingestConnections = 4

// eventIngest is workload 5: events/s from websocket to committed rows
// (counted through /api/events/filter), and the end-to-end latency of probe
// events to a /api/events/out subscriber while the ingest runs.
func eventIngest(ctx context.Context, t target, rn *running) []result {
	const workload = "5 events"
	runTag := uuid.NewString()[:8]
	sub, err := dialPrefectSocket(ctx, rn.srv.base, "/api/events/out")
	if err != nil {
		return []result{failed(workload, "ingest", t, err)}
	}
	defer sub.CloseNow()
	filter := map[string]any{"type": "filter", "backfill": false, "filter": map[string]any{
		"event": map[string]any{"prefix": []string{"bench.probe." + runTag}},
		// Live events occur after the subscription: the default "until"
		// (now) would leave them out.
		"occurred": map[string]any{"since": isoNow(time.Now().Add(-time.Minute)), "until": isoNow(time.Now().Add(time.Hour))}}}
	if err := wsWriteJSON(ctx, sub, filter); err != nil {
		return []result{failed(workload, "ingest", t, err)}
	}
	var probes latencies
	received := make(chan struct{})
	go readProbes(ctx, sub, &probes, received)

	end := rn.sampler.window()
	start := time.Now()
	sendCtx, cancel := context.WithTimeout(ctx, t.cfg.roundTime)
	defer cancel()
	probesSent := make(chan int, 1)
	go func() { probesSent <- sendProbes(sendCtx, rn, runTag) }()
	sent := sendIngest(sendCtx, rn, runTag, t.cfg.events)
	probeCount := <-probesSent
	// Committed: the events filter sees them all.
	stored, err := waitStoredEvents(ctx, rn, "bench.ingest."+runTag, sent, start, t.cfg.storeTime)
	took := time.Since(start)
	r := result{Workload: workload, Variant: "ingest (ws -> rows)", Server: string(t.kind), Database: t.dbKind,
		Metric: "events/s", HigherBest: true, Count: stored, Seconds: took.Seconds()}
	r.Value = float64(stored) / took.Seconds()
	r.usage(rn, end)
	r.Errors += int64(sent - stored)
	r.Note = joinNote(fmt.Sprintf("%d sent on %d sockets, %d stored", sent, ingestConnections, stored), r.Note)
	if err != nil {
		r.Note += "; " + err.Error()
	}
	// Give the subscriber a moment for the last probes.
	deadline := time.After(10 * time.Second)
	for probes.count() < probeCount {
		select {
		case <-deadline:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	l := result{Workload: workload, Variant: "ws in -> /events/out", Server: string(t.kind), Database: t.dbKind,
		Metric: "ms p50", Count: probes.count(), Errors: int64(probeCount - probes.count())}
	l.P50ms, l.P95ms, l.P99ms = probes.percentiles()
	l.Value = l.P50ms
	l.Note = fmt.Sprintf("%d probes during the ingest", probeCount)
	return []result{r, l}
}

func wsWriteJSON(ctx context.Context, c *websocket.Conn, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, data)
}

// sendIngest sends n events over ingestConnections sockets and waits for
// each socket's pong; it returns how many were sent.
func sendIngest(ctx context.Context, rn *running, runTag string, n int) int {
	var wg sync.WaitGroup
	counts := make([]int, ingestConnections)
	for c := 0; c < ingestConnections; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sock, err := openEventSocket(ctx, rn.srv.base)
			if err != nil {
				rn.api.errors.Add(1)
				return
			}
			defer sock.close()
			for i := c; i < n && ctx.Err() == nil; i += ingestConnections {
				ev := map[string]any{"id": uuid.NewString(), "occurred": isoNow(time.Now()),
					"event":    fmt.Sprintf("bench.ingest.%s.%d", runTag, i%10),
					"resource": map[string]any{"prefect.resource.id": fmt.Sprintf("bench.resource.%d", i%100)},
					"related":  []map[string]any{{"prefect.resource.id": "bench.related." + runTag, "prefect.resource.role": "bench"}},
					"payload":  map[string]any{"i": i}}
				if err := sock.send(ctx, ev); err != nil {
					break
				}
				counts[c]++
			}
			if err := sock.flush(context.WithoutCancel(ctx)); err != nil {
				rn.api.errors.Add(1)
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	return total
}

// sendProbes sends timestamped probe events, one every 20 ms while the bulk
// goes in; their delivery time to the subscriber is the end-to-end latency.
func sendProbes(ctx context.Context, rn *running, runTag string) int {
	sock, err := openEventSocket(context.WithoutCancel(ctx), rn.srv.base)
	if err != nil {
		rn.api.errors.Add(1)
		return 0
	}
	defer sock.close()
	n := 0
	for i := 0; i < 50; i++ {
		ev := map[string]any{"id": uuid.NewString(), "occurred": isoNow(time.Now()),
			"event": "bench.probe." + runTag, "resource": map[string]any{"prefect.resource.id": "bench.probe"},
			"payload": map[string]any{"sent_ns": time.Now().UnixNano()}}
		if sock.send(context.WithoutCancel(ctx), ev) != nil {
			break
		}
		n++
		time.Sleep(20 * time.Millisecond)
	}
	_ = sock.flush(context.WithoutCancel(ctx))
	return n
}

func readProbes(ctx context.Context, c *websocket.Conn, lat *latencies, _ chan struct{}) {
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var msg struct {
			Type  string `json:"type"`
			Event struct {
				Payload struct {
					SentNS int64 `json:"sent_ns"`
				} `json:"payload"`
			} `json:"event"`
		}
		if json.Unmarshal(data, &msg) == nil && msg.Type == "event" && msg.Event.Payload.SentNS > 0 {
			lat.add(time.Since(time.Unix(0, msg.Event.Payload.SentNS)))
		}
	}
}

// waitStoredEvents polls the events filter's total for the run's events.
func waitStoredEvents(ctx context.Context, rn *running, prefix string, want int, since time.Time, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	have := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var page struct {
			Total int `json:"total"`
		}
		body := map[string]any{"limit": 1, "filter": map[string]any{
			"event":    map[string]any{"prefix": []string{prefix}},
			"occurred": map[string]any{"since": isoNow(since.Add(-time.Minute)), "until": isoNow(time.Now().Add(time.Minute))}}}
		if _, err := rn.api.call(ctx, "POST", "/api/events/filter", body, &page); err == nil {
			have = page.Total
			if have >= want {
				return have, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return have, fmt.Errorf("%d of %d events stored after %s", have, want, limit)
}
