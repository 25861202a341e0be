package config

import (
	"strings"
	"testing"
	"time"
)

func TestServicesEnv(t *testing.T) {
	tests := []struct {
		name    string
		give    map[string]string
		setting string
		want    string
		wantOK  bool
	}{
		{"current", map[string]string{"PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false"}, "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", "false", true},
		{"legacy", map[string]string{"PREFECT_API_SERVICES_LATE_RUNS_ENABLED": "false"}, "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", "false", true},
		{"current wins", map[string]string{"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1", "PREFECT_API_SERVICES_SCHEDULER_LOOP_SECONDS": "2"}, "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS", "1", true},
		{"asked by legacy name", map[string]string{"PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "no"}, "PREFECT_API_SERVICES_FOREMAN_ENABLED", "no", true},
		{"no alias", map[string]string{"PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "0"}, "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED", "0", true},
		{"other settings too", map[string]string{"PREFECT_UI_ENABLED": "false"}, "PREFECT_SERVER_UI_ENABLED", "false", true},
		{"unknown name", map[string]string{"SOMETHING_ELSE": "x"}, "SOMETHING_ELSE", "x", true},
		{"unset", nil, "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := mustLoad(t, tt.give).Services.Env(tt.setting)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Env(%s) = %q, %v; want %q, %v", tt.setting, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestServicesAliasesFromPrefect spot-checks the alias table generated from
// prefect/settings/models/server/services.py.
func TestServicesAliasesFromPrefect(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED", "PREFECT_API_SERVICES_CANCELLATION_CLEANUP_ENABLED"},
		{"PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS", "PREFECT_API_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS"},
		{"PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED", "PREFECT_API_SERVICES_EVENT_PERSISTER_ENABLED"},
		{"PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE", "PREFECT_API_SERVICES_EVENT_PERSISTER_BATCH_SIZE"},
		{"PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL", "PREFECT_API_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL"},
		{"PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED", "PREFECT_API_SERVICES_EVENT_LOGGER_ENABLED"},
		{"PREFECT_SERVER_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE", "PREFECT_API_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE"},
		{"PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS", "PREFECT_API_SERVICES_LATE_RUNS_AFTER_SECONDS"},
		{"PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME", "PREFECT_API_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME"},
		{"PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS", "PREFECT_API_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS"},
		{"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED", "PREFECT_API_SERVICES_TASK_RUN_RECORDER_ENABLED"},
		{"PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", "PREFECT_API_SERVICES_TRIGGERS_ENABLED"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := mustLoad(t, map[string]string{tt.want: "marker"}).Services.Env(tt.give)
			if got != "marker" || !ok {
				t.Errorf("Env(%s) with %s set = %q, %v", tt.give, tt.want, got, ok)
			}
		})
	}
}

func TestServicesTyped(t *testing.T) {
	svc := mustLoad(t, map[string]string{
		"PREFECT_API_SERVICES_LATE_RUNS_ENABLED":         "off",
		"PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "2.5",
		"PREFECT_API_SERVICES_LATE_RUNS_AFTER_SECONDS":   "PT1M",
		"PREFECT_API_SERVICES_SCHEDULER_MAX_RUNS":        "7",
	}).Services
	enabled, err1 := svc.Enabled("PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", true)
	loop, err2 := svc.Duration("PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS", 5*time.Second)
	after, err3 := svc.Duration("PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS", 15*time.Second)
	maxRuns, err4 := svc.Int("PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS", 100)
	minRuns, err5 := svc.Int("PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS", 3)
	foreman, err6 := svc.Enabled("PREFECT_SERVER_SERVICES_FOREMAN_ENABLED", true)
	got := []any{enabled, loop, after, maxRuns, minRuns, foreman}
	want := []any{false, 2500 * time.Millisecond, time.Minute, 7, 3, true}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d = %v, want %v", i, got[i], want[i])
		}
	}
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestServicesErrors(t *testing.T) {
	svc := mustLoad(t, map[string]string{
		"PREFECT_API_SERVICES_LATE_RUNS_ENABLED":         "maybe",
		"PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "often",
		"PREFECT_API_SERVICES_SCHEDULER_MAX_RUNS":        "lots",
	}).Services
	_, err1 := svc.Enabled("PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", true)
	_, err2 := svc.Duration("PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS", time.Second)
	_, err3 := svc.Int("PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS", 1)
	tests := []struct {
		give error
		want string
	}{
		{err1, `PREFECT_API_SERVICES_LATE_RUNS_ENABLED: "maybe" is not a valid boolean`},
		{err2, `PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS: "often" is not a valid duration`},
		{err3, `PREFECT_API_SERVICES_SCHEDULER_MAX_RUNS: "lots" is not a valid integer`},
	}
	for _, tt := range tests {
		if tt.give == nil || !strings.Contains(tt.give.Error(), tt.want) {
			t.Errorf("error %v, want one containing %q", tt.give, tt.want)
		}
	}
}

// A Services built by hand (tests, fakes) works with its Env alone or none.
func TestServicesWithoutLoad(t *testing.T) {
	var none Services
	enabled, err := none.Enabled("PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED", true)
	if !enabled || err != nil {
		t.Errorf("zero Services: Enabled = %v, %v", enabled, err)
	}
	fake := Services{Env: func(string) (string, bool) { return "x", true }}
	if _, err := fake.Int("PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS", 1); err == nil || !strings.HasPrefix(err.Error(), "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS: ") {
		t.Errorf("fake Env: Int error = %v", err)
	}
}
