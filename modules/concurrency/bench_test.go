package concurrency_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// BenchmarkAcquireRelease measures increment-with-lease followed by
// decrement-with-lease over real HTTP on loopback, from 64 concurrent
// clients on one limit of 64 slots (so no request waits on a 423). One op is
// one acquire+release pair; it reports pairs/s and the latency percentiles of
// the acquire.
//
//	go test ./modules/concurrency -run '^$' -bench AcquireRelease -benchtime 20000x
func BenchmarkAcquireRelease(b *testing.B) {
	for _, d := range dbtest.Dialects() {
		kinds := []bool{false}
		if os.Getenv(redistest.EnvURL) != "" {
			kinds = append(kinds, true)
		}
		for _, redis := range kinds {
			name := fmt.Sprintf("%s/%s", d, map[bool]string{false: "memory", true: "redis"}[redis])
			b.Run(name, func(b *testing.B) { benchAcquireRelease(b, d, redis) })
		}
	}
}

func benchAcquireRelease(b *testing.B, d config.Dialect, redis bool) {
	a := app(b, env{dialect: d, redis: redis}, nil)
	a.JSON(http.MethodPost, v2, map[string]any{"name": "bench", "limit": 64}, http.StatusCreated, nil)
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(path string, body any) (*http.Response, error) {
		raw, _ := json.Marshal(body)
		return client.Post(srv.URL+path, "application/json", bytes.NewReader(raw))
	}
	const clients = 64
	ops := make(chan struct{}, b.N)
	for range b.N {
		ops <- struct{}{}
	}
	close(ops)
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	var failed sync.Once
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range ops {
				t0 := time.Now()
				resp, err := post(v2+"/increment-with-lease", map[string]any{"names": []string{"bench"}, "slots": 1, "lease_duration": 60})
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Do(func() { b.Errorf("acquire: %v %v", err, resp) })
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
				var got struct {
					LeaseID string `json:"lease_id"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				resp, err = post(v2+"/decrement-with-lease", map[string]any{"lease_id": got.LeaseID})
				if err != nil || resp.StatusCode != http.StatusNoContent {
					failed.Do(func() { b.Errorf("release: %v %v", err, resp) })
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "pairs/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50_acquire_ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99_acquire_ms")
}
