package deployments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/teambition/rrule-go"

	"github.com/prefect-server/prefect-server/platform/types"
)

// Schedule is Prefect's schedule union: an IntervalSchedule (Interval set),
// a CronSchedule (Cron set) or an RRuleSchedule (RRule set). It is stored
// and answered in the JSON form pydantic gives it.
type Schedule struct {
	Interval   *float64 // seconds
	AnchorDate *time.Time
	Cron       *string
	DayOr      bool
	RRule      *string
	// Timezone is the IANA name; nil on a cron schedule means UTC, as
	// Prefect leaves it null there.
	Timezone *string
}

// maxIterations is Prefect's MAX_ITERATIONS for date generation.
const maxIterations = 1000

// MarshalJSON writes the member of the union that is set.
func (s Schedule) MarshalJSON() ([]byte, error) {
	switch {
	case s.Interval != nil:
		anchor := ""
		if s.AnchorDate != nil {
			anchor = formatAnchor(*s.AnchorDate)
		}
		return json.Marshal(map[string]any{"interval": *s.Interval, "anchor_date": anchor, "timezone": s.Timezone})
	case s.Cron != nil:
		return json.Marshal(map[string]any{"cron": *s.Cron, "timezone": s.Timezone, "day_or": s.DayOr})
	default:
		return json.Marshal(map[string]any{"rrule": s.RRule, "timezone": s.Timezone})
	}
}

// formatAnchor keeps the anchor's offset, "Z" for UTC, as pydantic does.
func formatAnchor(t time.Time) string {
	layout := "2006-01-02T15:04:05"
	if t.Nanosecond() != 0 {
		layout += ".000000"
	}
	if _, off := t.Zone(); off == 0 {
		return t.Format(layout) + "Z"
	}
	return t.Format(layout + "-07:00")
}

// scheduleBody is every field any member of the union accepts.
type scheduleBody struct {
	Interval   json.RawMessage `json:"interval"`
	AnchorDate *string         `json:"anchor_date"`
	Timezone   *string         `json:"timezone"`
	Cron       *string         `json:"cron"`
	DayOr      *bool           `json:"day_or"`
	RRule      *string         `json:"rrule"`
}

// UnmarshalJSON decodes and validates a schedule; the error text is
// pydantic's where we have it.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var body scheduleBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return fmt.Errorf("invalid schedule: %w", err)
	}
	*s = Schedule{DayOr: true, Timezone: body.Timezone}
	if s.Timezone != nil {
		if _, err := time.LoadLocation(*s.Timezone); err != nil || *s.Timezone == "" || *s.Timezone == "Local" {
			return fmt.Errorf("Invalid timezone: %q (specify in IANA tzdata format, for example, America/New_York)", *s.Timezone)
		}
	}
	switch {
	case len(body.Interval) > 0:
		return s.decodeInterval(body)
	case body.Cron != nil:
		if _, err := parseCron(*body.Cron); err != nil {
			return fmt.Errorf("Invalid cron string: %q", *body.Cron)
		}
		s.Cron = body.Cron
		if body.DayOr != nil {
			s.DayOr = *body.DayOr
		}
		return nil
	case body.RRule != nil:
		if _, err := rrule.StrSliceToRRuleSetInLoc(splitRRule(*body.RRule), time.UTC); err != nil {
			return fmt.Errorf("Invalid RRule string %q: %v", *body.RRule, err)
		}
		s.RRule = body.RRule
		if s.Timezone == nil {
			utc := "UTC"
			s.Timezone = &utc
		}
		return nil
	}
	return fmt.Errorf("a schedule needs one of interval, cron or rrule")
}

func (s *Schedule) decodeInterval(body scheduleBody) error {
	var secs float64
	if err := json.Unmarshal(body.Interval, &secs); err != nil {
		d, perr := parseISODuration(strings.Trim(string(body.Interval), `"`))
		if perr != nil {
			return fmt.Errorf("Input should be a valid timedelta")
		}
		secs = d.Seconds()
	}
	if secs <= 0 {
		return fmt.Errorf("The interval must be positive")
	}
	s.Interval = &secs
	anchor := time.Now().UTC()
	if body.AnchorDate != nil {
		// keep the offset sent, as pydantic does; naive times are UTC
		t, err := time.Parse(time.RFC3339Nano, *body.AnchorDate)
		if err != nil {
			if t, err = types.Parse(*body.AnchorDate); err != nil {
				return fmt.Errorf("Input should be a valid datetime")
			}
		}
		anchor = t
	}
	s.AnchorDate = &anchor
	if s.Timezone == nil {
		utc := "UTC"
		s.Timezone = &utc
	}
	return nil
}

// parseISODuration reads the "PnDTnHnMnS" durations pydantic accepts for a
// timedelta (without years and months, which a timedelta cannot hold).
func parseISODuration(v string) (time.Duration, error) {
	if !strings.HasPrefix(v, "P") {
		return 0, fmt.Errorf("not an ISO 8601 duration: %q", v)
	}
	var total time.Duration
	inTime := false
	num := ""
	for _, c := range v[1:] {
		switch {
		case c == 'T':
			inTime = true
		case c >= '0' && c <= '9' || c == '.':
			num += string(c)
		default:
			var f float64
			if _, err := fmt.Sscanf(num, "%g", &f); err != nil {
				return 0, fmt.Errorf("not an ISO 8601 duration: %q", v)
			}
			unit := map[string]time.Duration{"D": 24 * time.Hour, "W": 7 * 24 * time.Hour, "TH": time.Hour, "TM": time.Minute, "TS": time.Second}
			key := string(c)
			if inTime {
				key = "T" + key
			}
			u, ok := unit[key]
			if !ok {
				return 0, fmt.Errorf("not an ISO 8601 duration: %q", v)
			}
			total += time.Duration(f * float64(u))
			num = ""
		}
	}
	return total, nil
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func parseCron(expr string) (*cron.SpecSchedule, error) {
	if strings.HasPrefix(strings.TrimSpace(expr), "@every") {
		return nil, fmt.Errorf("@every is not a cron string")
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported cron string %q", expr)
	}
	return spec, nil
}

func (s *Schedule) location() *time.Location {
	if s.Timezone == nil {
		return time.UTC
	}
	loc, err := time.LoadLocation(*s.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Dates returns up to n dates of the schedule on or after start and not
// after end, in the schedule's timezone, stopping early once stop says so
// (Prefect's _get_dates_generator with the scheduler's early exit).
func (s *Schedule) Dates(n int, start, end time.Time, stop func(count int, t time.Time) bool) []time.Time {
	next := s.generator(start)
	var out []time.Time
	seen := map[string]bool{}
	for i := 0; i < maxIterations+2 && len(out) < n; i++ {
		t, ok := next()
		if !ok || t.After(end) {
			break
		}
		key := s.dedupeKey(t)
		if t.Before(start) || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, t)
		if stop != nil && stop(len(out), t) {
			break
		}
	}
	return out
}

// dedupeKey is what makes two dates the same one. Prefect drops repeats with
// Python's datetime equality: for an interval, dates in one timezone compare
// by wall time, so the hour repeated when clocks go back is skipped; cron and
// rrule dates compare as instants.
func (s *Schedule) dedupeKey(t time.Time) string {
	if s.Interval != nil {
		return t.Format("2006-01-02T15:04:05.999999999")
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// generator yields the schedule's dates in order, from about start on.
func (s *Schedule) generator(start time.Time) func() (time.Time, bool) {
	loc := s.location()
	switch {
	case s.Interval != nil:
		return intervalDates(*s.Interval, s.AnchorDate.In(loc), start, loc)
	case s.Cron != nil:
		return cronDates(*s.Cron, s.DayOr, start, loc)
	default:
		return rruleDates(*s.RRule, start, loc)
	}
}

// intervalDates adds the interval to the anchor: whole days on the local
// calendar (so a daily schedule keeps its wall time across DST, as
// Prefect's calendar addition does) and the rest as elapsed seconds.
func intervalDates(interval float64, anchor, start time.Time, loc *time.Location) func() (time.Time, bool) {
	days := int(math.Floor(interval / 86400))
	rest := time.Duration((interval - float64(days)*86400) * float64(time.Second))
	nth := func(k int) time.Time {
		if days == 0 {
			return anchor.Add(time.Duration(k) * rest)
		}
		y, m, d := anchor.Date()
		h, mi, sec := anchor.Clock()
		local := localize(time.Date(y, m, d+k*days, h, mi, sec, anchor.Nanosecond(), time.UTC), loc)
		return local.Add(time.Duration(k) * rest)
	}
	// Jump close to start by elapsed time, then correct by whole steps.
	k := int(math.Floor(start.Sub(anchor).Seconds() / interval))
	for k > math.MinInt32 && nth(k).After(start) {
		k--
	}
	for nth(k).Before(start) {
		k++
	}
	return func() (time.Time, bool) {
		t := nth(k)
		k++
		return t, true
	}
}

// cronDates walks the cron's wall times in the schedule's timezone and
// places each one as Prefect does: a wall time in a DST gap moves forward by
// the gap, a repeated one is its first occurrence. The walk starts a few
// hours early so that times shifted across a transition are not missed;
// Dates drops what falls before start.
func cronDates(expr string, dayOr bool, start time.Time, loc *time.Location) func() (time.Time, bool) {
	spec, err := parseCron(expr)
	if err != nil {
		return func() (time.Time, bool) { return time.Time{}, false }
	}
	const dowStar, domStar = 1 << 63, 1 << 63
	bothRestricted := spec.Dom&domStar == 0 && spec.Dow&dowStar == 0
	w := start.In(loc)
	wall := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC).Add(-3 * time.Hour)
	return func() (time.Time, bool) {
		for range 100_000 {
			wall = spec.Next(wall)
			if wall.IsZero() {
				return time.Time{}, false
			}
			if !dayOr && bothRestricted && (spec.Dom&(1<<uint(wall.Day())) == 0 || spec.Dow&(1<<uint(wall.Weekday())) == 0) {
				continue // croniter's day_or=False: day of month AND day of week
			}
			return localize(wall, loc), true
		}
		return time.Time{}, false
	}
}

// rruleDates reads the rule in the schedule's timezone (a rule without
// DTSTART starts at Prefect's default anchor, see splitRRule).
func rruleDates(text string, start time.Time, loc *time.Location) func() (time.Time, bool) {
	set, err := rrule.StrSliceToRRuleSetInLoc(splitRRule(text), loc)
	if err != nil {
		return func() (time.Time, bool) { return time.Time{}, false }
	}
	cursor := start
	inclusive := true
	return func() (time.Time, bool) {
		t := set.After(cursor, inclusive)
		if t.IsZero() {
			return t, false
		}
		cursor, inclusive = t, false
		return t.In(loc), true
	}
}

// splitRRule splits an RFC 5545 text into its lines (DTSTART, RRULE, ...).
func splitRRule(text string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !strings.ContainsAny(line, ":;") || strings.HasPrefix(strings.ToUpper(line), "FREQ=") {
			line = "RRULE:" + line // dateutil accepts a bare rule
		}
		out = append(out, line)
	}
	if len(out) > 0 && !strings.HasPrefix(strings.ToUpper(out[0]), "DTSTART") {
		// Prefect's DEFAULT_ANCHOR_DATE, in the schedule's timezone
		out = append([]string{"DTSTART:20200101T000000"}, out...)
	}
	return out
}

// localize places a wall time (given in UTC's fields) in loc with the
// "compatible" disambiguation of Python's zoneinfo fold=0: a time in a gap
// moves forward by the gap, a repeated time is its earlier occurrence.
func localize(wall time.Time, loc *time.Location) time.Time {
	before := offsetAt(wall.Add(-36*time.Hour), loc)
	after := offsetAt(wall.Add(36*time.Hour), loc)
	var valid []time.Time
	for _, off := range []int{before, after} {
		t := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if _, o := t.Zone(); o == off && (len(valid) == 0 || !valid[0].Equal(t)) {
			valid = append(valid, t)
		}
	}
	switch len(valid) {
	case 0: // in a gap: the offset before it applies, which moves it forward
		return wall.Add(-time.Duration(before) * time.Second).In(loc)
	case 1:
		return valid[0]
	}
	if valid[1].Before(valid[0]) {
		return valid[1]
	}
	return valid[0]
}

func offsetAt(approx time.Time, loc *time.Location) int {
	_, off := approx.In(loc).Zone()
	return off
}

// pythonStr formats t as Python's str(datetime) does; Prefect puts it in the
// idempotency key of scheduled runs.
func pythonStr(t time.Time) string {
	layout := "2006-01-02 15:04:05"
	if t.Nanosecond()/1000 != 0 {
		layout += ".000000"
	}
	return t.Format(layout + "-07:00")
}

// name is the class name Prefect reports for a schedule without a slug.
func (s *Schedule) name() string {
	switch {
	case s.Interval != nil:
		return "IntervalSchedule"
	case s.Cron != nil:
		return "CronSchedule"
	}
	return "RRuleSchedule"
}
