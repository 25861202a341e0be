package concurrency_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform/services"
)

// runRepossessor runs the module's repossessor service until the test ends.
func runRepossessor(t *testing.T) fx.Option {
	type in struct {
		fx.In
		All []services.Service `group:"services"`
	}
	return fx.Invoke(func(p in) {
		for _, s := range p.All {
			if s.Name() != "repossessor" {
				continue
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("repossessor: %v", err)
				}
			})
			return
		}
		t.Fatal("no repossessor service")
	})
}

// TestExpiredLeasesGiveBackTheirSlots: holders that vanish (killed, never
// renewing) get their slots back once the lease expires.
func TestExpiredLeasesGiveBackTheirSlots(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		e.fast = true
		a := app(t, e, map[string]string{"PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "0.05"}, runRepossessor(t))
		create(t, a, map[string]any{"name": "db", "limit": 3})
		a.JSON(http.MethodPost, v1+"/", map[string]any{"tag": "etl", "concurrency_limit": 3}, http.StatusCreated, nil)
		var kept withLease
		for i := range 3 {
			body := map[string]any{"names": []string{"db", "tag:etl"}, "slots": 1, "lease_duration": 60}
			if i == 2 {
				body["lease_duration"] = 3600 // 3.6 s: renewed below, it outlives the others
			}
			a.JSON(http.MethodPost, v2+"/increment-with-lease", body, http.StatusOK, &kept)
		}
		if n := read(t, a, "db").ActiveSlots; n != 3 {
			t.Fatalf("%d slots taken, want 3", n)
		}
		eventually(t, 3*time.Second, "expired leases give back their slots", func() bool {
			return read(t, a, "db").ActiveSlots == 1 && read(t, a, "tag:etl").ActiveSlots == 1
		})
		a.JSON(http.MethodPost, v2+"/leases/"+kept.LeaseID+"/renew", map[string]any{"lease_duration": 3600}, http.StatusNoContent, nil)
		a.JSON(http.MethodPost, v2+"/decrement-with-lease", map[string]any{"lease_id": kept.LeaseID}, http.StatusNoContent, nil)
		if d, tag := read(t, a, "db").ActiveSlots, read(t, a, "tag:etl").ActiveSlots; d != 0 || tag != 0 {
			t.Fatalf("after the last release: db %d, tag:etl %d", d, tag)
		}
	})
}
