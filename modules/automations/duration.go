package automations

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/prefect-server/prefect-server/platform/api"
)

// isoDuration is ISO 8601's PnDTnHnMnS (with optional weeks), as pydantic
// reads a timedelta string.
var isoDuration = regexp.MustCompile(`^([-+])?P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// clockDuration is "[-][D day[s], ]HH:MM:SS[.f]" or "[-]D:HH:MM:SS".
var clockDuration = regexp.MustCompile(`^([-+])?(?:(\d+) days?,? ?)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$`)

// parseSeconds reads Prefect's DurationOrSecondsTimeDelta: a number of
// seconds or a duration string. It returns seconds.
func parseSeconds(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		return parseDurationString(strings.TrimSpace(x))
	}
	return 0, false
}

func parseDurationString(s string) (float64, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, true
	}
	if m := isoDuration.FindStringSubmatch(s); m != nil && s != "P" && !strings.HasSuffix(s, "T") {
		units := []float64{7 * 86400, 86400, 3600, 60, 1}
		total := 0.0
		for i, u := range units {
			if m[i+2] != "" {
				f, _ := strconv.ParseFloat(m[i+2], 64)
				total += f * u
			}
		}
		return sign(m[1]) * total, true
	}
	if m := clockDuration.FindStringSubmatch(s); m != nil {
		days, _ := strconv.ParseFloat(orZero(m[2]), 64)
		h, _ := strconv.ParseFloat(m[3], 64)
		mi, _ := strconv.ParseFloat(m[4], 64)
		sec, _ := strconv.ParseFloat(m[5], 64)
		return sign(m[1]) * (days*86400 + h*3600 + mi*60 + sec), true
	}
	return 0, false
}

func sign(s string) float64 {
	if s == "-" {
		return -1
	}
	return 1
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// duration validates a timedelta and returns it as float seconds, the way
// Prefect writes a timedelta in JSON.
func duration(minSeconds *float64) check {
	return func(v any, loc []any) (any, []api.FieldError) {
		secs, ok := parseSeconds(v)
		if !ok {
			if _, isStr := v.(string); isStr {
				return nil, []api.FieldError{fieldError("time_delta_parsing", "Input should be a valid timedelta, invalid duration format", v, loc)}
			}
			return nil, []api.FieldError{fieldError("time_delta_type", "Input should be a valid timedelta", v, loc)}
		}
		if minSeconds != nil && secs < *minSeconds {
			return nil, []api.FieldError{{Type: "greater_than_equal", Loc: loc,
				Msg: "Input should be greater than or equal to 0 seconds", Input: secs, Ctx: map[string]any{"ge": "0 seconds"}}}
		}
		return secs, nil
	}
}
