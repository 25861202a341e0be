package deployments

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// The expectations were computed by Prefect 3.9.1's own schedule code
// (prefect.server.schemas.schedules, _get_dates_generator with the same n,
// start and an end 400 days later) in the test venv; want is in UTC and
// wantKey as Python's str() prints each date (the scheduler's idempotency
// key).
func TestScheduleDatesMatchPrefect(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		start   string
		n       int
		want    []string
		wantKey []string
	}{
		{"hourly cron over fall-back", `{"cron": "0 * * * *", "timezone": "America/New_York"}`, "2026-10-31T22:00:00-04:00", 8, []string{"2026-11-01T02:00:00Z", "2026-11-01T03:00:00Z", "2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z"}, []string{"2026-10-31 22:00:00-04:00", "2026-10-31 23:00:00-04:00", "2026-11-01 00:00:00-04:00", "2026-11-01 01:00:00-04:00", "2026-11-01 02:00:00-05:00", "2026-11-01 03:00:00-05:00", "2026-11-01 04:00:00-05:00", "2026-11-01 05:00:00-05:00"}},
		{"daily 2:30 over spring-forward", `{"cron": "30 2 * * *", "timezone": "America/New_York"}`, "2026-03-06T00:00:00-05:00", 4, []string{"2026-03-06T07:30:00Z", "2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}, []string{"2026-03-06 02:30:00-05:00", "2026-03-07 02:30:00-05:00", "2026-03-08 03:30:00-04:00", "2026-03-09 02:30:00-04:00"}},
		{"day_or false", `{"cron": "0 12 13 * 5", "timezone": "Europe/Berlin", "day_or": false}`, "2026-01-01T00:00:00+01:00", 3, []string{"2026-02-13T11:00:00Z", "2026-03-13T11:00:00Z", "2026-11-13T11:00:00Z"}, []string{"2026-02-13 12:00:00+01:00", "2026-03-13 12:00:00+01:00", "2026-11-13 12:00:00+01:00"}},
		{"day_or true", `{"cron": "0 12 13 * 5", "timezone": "Europe/Berlin"}`, "2026-01-01T00:00:00+01:00", 4, []string{"2026-01-02T11:00:00Z", "2026-01-09T11:00:00Z", "2026-01-13T11:00:00Z", "2026-01-16T11:00:00Z"}, []string{"2026-01-02 12:00:00+01:00", "2026-01-09 12:00:00+01:00", "2026-01-13 12:00:00+01:00", "2026-01-16 12:00:00+01:00"}},
		{"daily interval", `{"interval": 86400, "anchor_date": "2026-03-01T09:00:00-05:00", "timezone": "America/New_York"}`, "2026-03-06T00:00:00-05:00", 5, []string{"2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z", "2026-03-10T13:00:00Z"}, []string{"2026-03-06 09:00:00-05:00", "2026-03-07 09:00:00-05:00", "2026-03-08 09:00:00-04:00", "2026-03-09 09:00:00-04:00", "2026-03-10 09:00:00-04:00"}},
		{"hourly interval fall-back", `{"interval": 3600, "anchor_date": "2026-10-01T00:00:00Z", "timezone": "America/New_York"}`, "2026-11-01T00:00:00-04:00", 5, []string{"2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z"}, []string{"2026-11-01 00:00:00-04:00", "2026-11-01 01:00:00-04:00", "2026-11-01 02:00:00-05:00", "2026-11-01 03:00:00-05:00", "2026-11-01 04:00:00-05:00"}},
		{"90 min interval fall-back", `{"interval": 5400, "anchor_date": "2026-10-01T00:00:00Z", "timezone": "America/New_York"}`, "2026-11-01T00:00:00-04:00", 5, []string{"2026-11-01T04:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:30:00Z", "2026-11-01T09:00:00Z", "2026-11-01T10:30:00Z"}, []string{"2026-11-01 00:30:00-04:00", "2026-11-01 01:00:00-05:00", "2026-11-01 02:30:00-05:00", "2026-11-01 04:00:00-05:00", "2026-11-01 05:30:00-05:00"}},
		{"rrule paris", `{"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "timezone": "Europe/Paris"}`, "2026-03-27T00:00:00+01:00", 4, []string{"2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"}, []string{"2026-03-27 09:00:00+01:00", "2026-03-28 09:00:00+01:00", "2026-03-29 09:00:00+02:00", "2026-03-30 09:00:00+02:00"}},
		{"rrule with dtstart", `{"rrule": "DTSTART:20260101T080000\nRRULE:FREQ=WEEKLY;BYDAY=MO,FR", "timezone": "UTC"}`, "2026-02-01T00:00:00+00:00", 4, []string{"2026-02-02T08:00:00Z", "2026-02-06T08:00:00Z", "2026-02-09T08:00:00Z", "2026-02-13T08:00:00Z"}, []string{"2026-02-02 08:00:00+00:00", "2026-02-06 08:00:00+00:00", "2026-02-09 08:00:00+00:00", "2026-02-13 08:00:00+00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Schedule
			if err := json.Unmarshal([]byte(tt.give), &s); err != nil {
				t.Fatalf("decode %s: %v", tt.give, err)
			}
			start, err := time.Parse(time.RFC3339, tt.start)
			if err != nil {
				t.Fatal(err)
			}
			dates := s.Dates(tt.n, start, start.Add(400*24*time.Hour), nil)
			got, gotKey := make([]string, len(dates)), make([]string, len(dates))
			for i, d := range dates {
				got[i], gotKey[i] = d.UTC().Format(time.RFC3339), pythonStr(d)
			}
			if !slices.Equal(got, tt.want) || !slices.Equal(gotKey, tt.wantKey) {
				t.Fatalf("got %v %v,\nwant %v %v", got, gotKey, tt.want, tt.wantKey)
			}
		})
	}
}

func TestScheduleValidation(t *testing.T) {
	tests := []struct {
		give    string
		wantErr string
	}{
		{`{"cron": "bad"}`, `Invalid cron string: "bad"`},
		{`{"cron": "@every 1h"}`, `Invalid cron string: "@every 1h"`},
		{`{"cron": "0 9 * * *", "timezone": "Nope/X"}`, `Invalid timezone: "Nope/X" (specify in IANA tzdata format, for example, America/New_York)`},
		{`{"interval": 0}`, "The interval must be positive"},
		{`{"interval": 60, "bogus": 1}`, `invalid schedule: json: unknown field "bogus"`},
		{`{}`, "a schedule needs one of interval, cron or rrule"},
		{`{"rrule": "FREQ=SOMETIMES"}`, "Invalid RRule string"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var s Schedule
			err := json.Unmarshal([]byte(tt.give), &s)
			if err == nil || len(err.Error()) < len(tt.wantErr) || err.Error()[:len(tt.wantErr)] != tt.wantErr {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestScheduleJSONRoundTrip(t *testing.T) {
	tests := []struct{ give, want string }{
		{`{"interval": 3600, "anchor_date": "2026-01-01T00:00:00+05:00"}`, `{"anchor_date":"2026-01-01T00:00:00+05:00","interval":3600,"timezone":"UTC"}`},
		{`{"interval": "PT1H30M", "anchor_date": "2026-01-01T00:00:00Z", "timezone": "Europe/Paris"}`, `{"anchor_date":"2026-01-01T00:00:00Z","interval":5400,"timezone":"Europe/Paris"}`},
		{`{"cron": "0 9 * * *"}`, `{"cron":"0 9 * * *","day_or":true,"timezone":null}`},
		{`{"rrule": "FREQ=DAILY"}`, `{"rrule":"FREQ=DAILY","timezone":"UTC"}`},
	}
	for _, tt := range tests {
		var s Schedule
		if err := json.Unmarshal([]byte(tt.give), &s); err != nil {
			t.Fatalf("decode %s: %v", tt.give, err)
		}
		got, _ := json.Marshal(s)
		if string(got) != tt.want {
			t.Fatalf("%s -> %s, want %s", tt.give, got, tt.want)
		}
	}
}
