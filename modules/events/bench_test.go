package events

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// BenchmarkIngest measures events per second from websocket clients to
// committed rows: b.N events (each with 3 related resources, about 700
// bytes) sent by 8 clients as PrefectEventsClient sends them, timed until
// the last one is stored. Run it with a fixed count, e.g.
//
//	PREFECT_TEST_POSTGRES_URL=... go test ./modules/events -run '^$' -bench Ingest -benchtime 100000x
func BenchmarkIngest(b *testing.B) {
	const clients = 8
	for _, d := range dbtest.Dialects() {
		for _, kind := range brokers() {
			b.Run(fmt.Sprintf("%s/%s", d, kind), func(b *testing.B) {
				if kind == config.KindRedis {
					// A fresh stream: the persister's group must not pick up
					// another run's events.
					rc := redistest.Client(b)
					if err := rc.Do(context.Background(), rc.B().Del().Key(Topic).Build()).Error(); err != nil {
						b.Fatal(err)
					}
				}
				srv := startServer(b, d, func(c *config.Config) {
					if kind == config.KindRedis {
						c.Events.MessagingBroker, c.Redis.URL = kind, os.Getenv(redistest.EnvURL)
					}
				})
				frames := make([][][]byte, clients)
				for i := range b.N {
					// Realistic ids: the clients' uuid7 event ids; runs, flows
					// and deployments that recur.
					e := rawEvent("prefect.flow-run.Running", fmt.Sprintf("prefect.flow-run.%08d", i%2000), time.Now(), map[string]any{
						"id": uuid.Must(uuid.NewV7()).String(),
						"related": []map[string]string{
							{LabelID: fmt.Sprintf("prefect.flow.%04d", i%20), LabelRole: "flow", LabelName: "etl"},
							{LabelID: fmt.Sprintf("prefect.deployment.%04d", i%50), LabelRole: "deployment", LabelName: "nightly"},
							{LabelID: "prefect.tag.daily", LabelRole: "tag"},
						},
						"payload": map[string]any{"intended": map[string]any{"from": "PENDING", "to": "RUNNING"},
							"validated_state": map[string]any{"type": "RUNNING", "name": "Running"}},
					})
					frames[i%clients] = append(frames[i%clients], mustMarshal(b, e))
				}
				conns := make([]*websocket.Conn, clients)
				for i := range conns {
					conns[i] = srv.dial(b, "/api/events/in")
				}
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for i, c := range conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for _, f := range frames[i] {
							if err := c.Write(context.Background(), websocket.MessageText, f); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				sent := time.Since(start)
				for {
					n, err := srv.DB.NewSelect().TableExpr("events").Count(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					if n >= int64(b.N) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
				b.Logf("sent in %v, stored in %v", sent, elapsed)
			})
		}
	}
}

func brokers() []config.BrokerKind {
	if strings.TrimSpace(os.Getenv("PREFECT_TEST_REDIS_URL")) == "" {
		return []config.BrokerKind{config.KindMemory}
	}
	return []config.BrokerKind{config.KindMemory, config.KindRedis}
}
