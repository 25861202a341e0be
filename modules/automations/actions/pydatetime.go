package actions

import (
	"encoding/json"
	"regexp"
	"time"
)

// pyDateTime is a timestamp of an object in a template's context. Prefect's
// templates see pydantic models whose timestamps are Python datetimes: they
// print as str() does ("2026-11-26 04:38:21.100000+00:00"), and serialize
// (tojson of the object holding them) as the API's ISO text.
type pyDateTime struct {
	t   time.Time
	raw string
}

func (d pyDateTime) String() string {
	layout := "2006-01-02 15:04:05"
	if d.t.Nanosecond()/1000 != 0 {
		layout += ".000000"
	}
	return d.t.Format(layout + "-07:00")
}

func (d pyDateTime) MarshalJSON() ([]byte, error) { return json.Marshal(d.raw) }

// isoTimestamp is how the API writes a timestamp.
var isoTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$`)

// withPyDateTimes replaces the timestamps of a JSON value (in place for maps
// and slices) with pyDateTimes.
func withPyDateTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = withPyDateTimes(e)
		}
	case []any:
		for i, e := range x {
			x[i] = withPyDateTimes(e)
		}
	case string:
		if !isoTimestamp.MatchString(x) {
			return x
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return pyDateTime{t: t, raw: x}
		}
	}
	return v
}
