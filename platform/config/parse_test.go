package config

import (
	"testing"
	"time"
)

// The accepted forms follow what pydantic 2 (speedate) accepts for a
// timedelta, checked against Prefect 3.9.1's own settings.
func TestParseDuration(t *testing.T) {
	tests := []struct {
		give string
		want time.Duration
	}{
		{"20", 20 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{" 60 ", time.Minute},
		{"1e3", 1000 * time.Second},
		{"P7D", 7 * 24 * time.Hour},
		{"+P1D", 24 * time.Hour},
		{"P1W", 7 * 24 * time.Hour},
		{"P1W1D", 8 * 24 * time.Hour},
		{"P1M", 30 * 24 * time.Hour},
		{"P1Y", 365 * 24 * time.Hour},
		{"P1.5D", 36 * time.Hour},
		{"P1,5D", 36 * time.Hour},
		{"PT1H30M", 90 * time.Minute},
		{"PT1.5H", 90 * time.Minute},
		{"PT0.5S", 500 * time.Millisecond},
		{"PT1M1.5S", 61500 * time.Millisecond},
		{"P1DT1H", 25 * time.Hour},
		{"P1DT", 24 * time.Hour},
		{"P0D", 0},
		{"PT36H", 36 * time.Hour},
		{"7 days, 0:00:00", 7 * 24 * time.Hour},
		{"1 day, 2:00:00", 26 * time.Hour},
		{"10 days, 1:02:03.5", 241*time.Hour + 2*time.Minute + 3500*time.Millisecond},
		{"3 days,01:00:00", 73 * time.Hour},
		{"1 day 1:00:00", 25 * time.Hour},
		{"2 days", 48 * time.Hour},
		{"1 DAY", 24 * time.Hour},
		{"1day", 24 * time.Hour},
		{"1d", 24 * time.Hour},
		{"1 day,", 24 * time.Hour},
		{"01:00:00", time.Hour},
		{"25:00:00", 25 * time.Hour},
		{"01:30", 90 * time.Minute},
		{"01:02:03.123456789", time.Hour + 2*time.Minute + 3123456789*time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := parseDuration(tt.give)
			if err != nil || got != tt.want {
				t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []string{
		"", "P", "PT", "p1d", "P1H", "PT1D", "P-1D", "PT1H1M1S1", "1:2:3", "01:60:00", "01:00:60",
		"12:00:00Z", "1 day, 1 day", "1s", "a week", "inf", "nan", "0x10", "-1", "-P1D", "-01:00:00",
		"99999999 days", "True",
	}
	for _, give := range tests {
		t.Run(give, func(t *testing.T) {
			if got, err := parseDuration(give); err == nil {
				t.Errorf("parseDuration(%q) = %v, want an error", give, got)
			}
		})
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"true", true}, {"TRUE", true}, {"True", true}, {"1", true}, {"yes", true}, {"y", true}, {"on", true}, {"t", true}, {" true ", true},
		{"false", false}, {"False", false}, {"0", false}, {"no", false}, {"n", false}, {"off", false}, {"f", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := parseBool(tt.give)
			if err != nil || got != tt.want {
				t.Errorf("parseBool(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
			}
		})
	}
	for _, give := range []string{"", "2", "enabled", "truee"} {
		if _, err := parseBool(give); err == nil {
			t.Errorf("parseBool(%q): want an error", give)
		}
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{"200", 200}, {" 42 ", 42}, {"-1", -1}, {"+3", 3}, {"1_000", 1000}, {"4.0", 4}, {"4.", 4}, {"017", 17},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := parseInt(tt.give)
			if err != nil || got != tt.want {
				t.Errorf("parseInt(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
			}
		})
	}
	for _, give := range []string{"", "abc", "4.5", "1__0", "_1", "0x10", "1e3", "99999999999999999999"} {
		if _, err := parseInt(give); err == nil {
			t.Errorf("parseInt(%q): want an error", give)
		}
	}
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		give string
		want BrokerKind
	}{
		{messagingMemoryModule, KindMemory}, {messagingRedisModule, KindRedis}, {"memory", KindMemory}, {"redis", KindRedis}, {" redis ", KindRedis},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := parseKind(tt.give, messagingMemoryModule, messagingRedisModule)
			if err != nil || got != tt.want {
				t.Errorf("parseKind(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
			}
		})
	}
	for _, give := range []string{"", "Redis", "kafka", orderingRedisModule} {
		if _, err := parseKind(give, messagingMemoryModule, messagingRedisModule); err == nil {
			t.Errorf("parseKind(%q): want an error", give)
		}
	}
}
