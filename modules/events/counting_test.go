package events

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

func TestSpans(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	now := at("2026-11-25T21:52:30Z")
	tests := []struct {
		name                   string
		since, until           string
		unit                   string
		interval               float64
		wantN                  int
		wantFirst, wantLastEnd string
		wantErr                string
	}{
		{"quarter hours, until in the future", "2026-11-25T20:52:00Z", "2026-11-25T21:53:00Z", "minute", 15, 5,
			"2026-11-25T20:45:00Z", "2026-11-25T21:59:59.999999Z", ""},
		{"days, until in the past", "2026-11-20T10:00:00Z", "2026-11-22T10:00:00Z", "day", 1, 3,
			"2026-11-20T00:00:00Z", "2026-11-22T23:59:59.999999Z", ""},
		{"weeks start on Monday", "2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z", "week", 1, 1,
			"2026-11-23T00:00:00Z", "2026-11-29T23:59:59.999999Z", ""},
		{"half days", "2026-11-25T13:00:00Z", "2026-11-25T20:00:00Z", "day", 0.5, 1,
			"2026-11-25T12:00:00Z", "2026-11-25T23:59:59.999999Z", ""},
		{"too many buckets", "2020-01-01T00:00:00Z", "2026-11-25T21:00:00Z", "second", 1, 0, "", "",
			"The given interval would create 217803600 buckets, which is too many. Please increase the interval or reduce the time range to produce 1000 buckets or fewer."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := spans(at(tt.since), at(tt.until), tt.unit, tt.interval, now)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.wantN || !got[0].start.Equal(at(tt.wantFirst)) || !got[len(got)-1].end.Equal(at(tt.wantLastEnd)) {
				t.Fatalf("spans = %v (%v); want %d from %s to %s", got, err, tt.wantN, tt.wantFirst, tt.wantLastEnd)
			}
		})
	}
}

func TestCountBy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		srv := startServer(t, d, nil)
		base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
		var evs []any
		for i, name := range []string{"old-name", "new-name"} {
			e := rawEvent("test.count.a", "res.1", base.Add(time.Duration(i)*time.Hour+time.Minute), nil)
			e["resource"] = map[string]string{LabelID: "res.1", LabelName: name}
			evs = append(evs, e)
		}
		evs = append(evs, rawEvent("test.count.b", "res.2", base.Add(2*time.Hour+5*time.Minute), nil))
		evs = append(evs, rawEvent("test.count.a", "res.2", base.Add(2*time.Hour+6*time.Minute), nil))
		srv.JSON(http.MethodPost, "/api/events", evs, http.StatusNoContent, nil)
		filter := map[string]any{"event": map[string]any{"prefix": []string{"test.count."}},
			"occurred": map[string]any{"since": base, "until": base.Add(3*time.Hour - time.Microsecond)}}
		srv.waitTotal(t, filter, 4)

		count := func(countable string, body map[string]any) []EventCount {
			t.Helper()
			body["filter"] = filter
			var out []EventCount
			srv.JSON(http.MethodPost, "/api/events/count-by/"+countable, body, http.StatusOK, &out)
			return out
		}
		brief := func(cs []EventCount) string {
			s := ""
			for _, c := range cs {
				s += fmt.Sprintf("%s/%s=%d ", c.Value, c.Label, c.Count)
			}
			return s
		}
		if got := brief(count("event", map[string]any{})); got != "test.count.a/test.count.a=3 test.count.b/test.count.b=1 " {
			t.Fatalf("by event: %s", got)
		}
		if got := brief(count("resource", map[string]any{})); got != "res.1/new-name=2 res.2/res.2=2 " {
			t.Fatalf("by resource (latest name, then id): %s", got)
		}
		hourly := count("time", map[string]any{"time_unit": "hour", "time_interval": 1})
		want := fmt.Sprintf("0/%s=1 1/%s=1 2/%s=2 ", isoLabel(base), isoLabel(base.Add(time.Hour)), isoLabel(base.Add(2*time.Hour)))
		if got := brief(hourly); got != want {
			t.Fatalf("by hour: %s, want %s", got, want)
		}
		if !hourly[2].StartTime.Equal(base.Add(2*time.Hour)) || !hourly[2].EndTime.Equal(base.Add(3*time.Hour-time.Microsecond)) {
			t.Fatalf("bucket times %+v", hourly[2])
		}
		daily := count("day", map[string]any{})
		total := 0
		for _, c := range daily {
			total += c.Count
		}
		if total != 4 || len(daily) < 1 || len(daily) > 2 {
			t.Fatalf("by day: %s", brief(daily))
		}

		status, body := srv.Do(http.MethodPost, "/api/events/count-by/time", map[string]any{"filter": map[string]any{
			"occurred": map[string]any{"since": "2020-01-01T00:00:00Z"}}, "time_unit": "second"})
		var detail struct{ Detail string }
		_ = json.Unmarshal(body, &detail)
		if status != 422 || len(detail.Detail) < 30 || detail.Detail[:30] != "The given interval would creat" {
			t.Fatalf("too many buckets: %d %s", status, body)
		}
		srv.JSON(http.MethodPost, "/api/events/count-by/bogus", map[string]any{"filter": map[string]any{}}, http.StatusUnprocessableEntity, nil)
		srv.JSON(http.MethodPost, "/api/events/count-by/event", map[string]any{}, http.StatusUnprocessableEntity, nil)
		srv.JSON(http.MethodPost, "/api/events/count-by/time", map[string]any{"filter": map[string]any{}, "time_interval": 0.001}, http.StatusUnprocessableEntity, nil)
	})
}
