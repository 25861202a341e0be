package actions

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// isoDuration is the ISO 8601 duration pydantic writes a timedelta as
// ("PT30S", "P1DT2H", "-PT5M").
var isoDuration = regexp.MustCompile(`^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseTimedelta reads a run-deployment's schedule_after: seconds as a
// number or a string, or an ISO 8601 duration; absent is zero. A negative
// delay is refused, as Prefect's NonNegativeTimeDelta.
func parseTimedelta(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		return seconds(secs)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("schedule_after %s is not a duration", raw)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return seconds(f)
	}
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("schedule_after %q is not a duration", s)
	}
	total := 0.0
	for i, unit := range []float64{86400, 3600, 60, 1} {
		if m[i+2] != "" {
			v, _ := strconv.ParseFloat(m[i+2], 64)
			total += v * unit
		}
	}
	if m[1] == "-" {
		total = -total
	}
	return seconds(total)
}

func seconds(s float64) (time.Duration, error) {
	if s < 0 {
		return 0, fmt.Errorf("schedule_after must be a non-negative duration")
	}
	return time.Duration(s * float64(time.Second)), nil
}
