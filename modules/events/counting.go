package events

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Countables and time units of POST /events/count-by/{countable}.
var (
	countables = []string{"day", "time", "event", "resource"}
	timeUnits  = []string{"week", "day", "hour", "minute", "second"}
)

// pivot is Prefect's PIVOT_DATETIME: time buckets are counted from it.
var pivot = time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)

// maxBuckets is the most time buckets one count may make.
const maxBuckets = 1000

// EventCount is Prefect's EventCount.
type EventCount struct {
	Value     string         `json:"value"`
	Label     string         `json:"label"`
	Count     int            `json:"count"`
	StartTime types.DateTime `json:"start_time"`
	EndTime   types.DateTime `json:"end_time"`
}

// countError is Prefect's InvalidEventCountParameters (a 422 with a detail).
type countError struct{ msg string }

func (e *countError) Error() string { return e.msg }

// bucketSize is TimeUnit.as_timedelta(interval), to the microsecond.
func bucketSize(unit string, interval float64) time.Duration {
	base := map[string]time.Duration{"week": 7 * 24 * time.Hour, "day": 24 * time.Hour, "hour": time.Hour,
		"minute": time.Minute, "second": time.Second}[unit]
	return time.Duration(math.Round(float64(base)*interval/1e3)) * time.Microsecond
}

// span is one time bucket.
type span struct{ start, end time.Time }

// spans divides [since, until] into buckets of the unit, aligned on the
// pivot (TimeUnit.get_interval_spans); first is the index of the first one.
func spans(since, until time.Time, unit string, interval float64, now time.Time) (first int64, out []span, err error) {
	delta := bucketSize(unit, interval)
	if interval < 0.01 || delta <= 0 {
		return 0, nil, &countError{"The minimum interval is 0.01"}
	}
	if n := math.Ceil(float64(until.Sub(since)) / float64(delta)); n > maxBuckets {
		return 0, nil, &countError{fmt.Sprintf("The given interval would create %d buckets, which is too many. "+
			"Please increase the interval or reduce the time range to produce %d buckets or fewer.", int64(n), maxBuckets)}
	}
	end := until
	if end.After(now) {
		end = endOfPeriod(now, unit)
	}
	first = int64(math.Floor(float64(since.Sub(pivot)) / float64(delta)))
	for start := pivot.Add(time.Duration(first) * delta); start.Before(end); start = start.Add(delta) {
		out = append(out, span{start, start.Add(delta - time.Microsecond)})
	}
	return first, out, nil
}

// endOfPeriod is the last microsecond of the unit containing t (pendulum's end_of).
func endOfPeriod(t time.Time, unit string) time.Time {
	t = t.UTC()
	var start time.Time
	var d time.Duration
	switch unit {
	case "second":
		start, d = t.Truncate(time.Second), time.Second
	case "minute":
		start, d = t.Truncate(time.Minute), time.Minute
	case "hour":
		start, d = t.Truncate(time.Hour), time.Hour
	case "week":
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		start, d = day.AddDate(0, 0, -((int(t.Weekday())+6)%7)), 7*24*time.Hour
	default:
		start, d = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), 24*time.Hour
	}
	return start.Add(d - time.Microsecond)
}

// isoLabel is Python's datetime.isoformat() of a UTC time.
func isoLabel(t time.Time) string {
	if t.Nanosecond() != 0 {
		return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
	}
	return t.UTC().Format("2006-01-02T15:04:05") + "+00:00"
}

// countRow is one group of the count query.
type countRow struct {
	Value     string         `bun:"value"`
	Label     string         `bun:"label"`
	Count     int            `bun:"count"`
	StartTime types.DateTime `bun:"start_time"`
	EndTime   types.DateTime `bun:"end_time"`
}

// countBy counts the events matching f by countable (Countable.get_database_query
// and process_time_based_counts). "day" is "time" by days of one day.
func (r *repo) countBy(ctx context.Context, f *EventFilter, countable, unit string, interval float64, now time.Time) ([]EventCount, error) {
	if countable == "day" {
		unit, interval = "day", 1
	}
	timeBased := countable == "day" || countable == "time"
	var (
		first   int64
		buckets []span
	)
	if timeBased {
		var err error
		if first, buckets, err = spans(f.Occurred.Since.Time, f.Occurred.Until.Time, unit, interval, now); err != nil {
			return nil, err
		}
	}
	rd := r.db.Read
	value, label := r.countExprs(countable, bucketSize(unit, interval))
	// Group by value and label, then give each value the label of its latest
	// event and sum again: a resource renamed over time is counted once.
	fundamental := f.where(rd).Apply(rd.NewSelect().TableExpr("events").
		ColumnExpr(value + " AS value").ColumnExpr(label + " AS label").
		ColumnExpr("max(events.occurred) AS latest").ColumnExpr("min(events.occurred) AS oldest").
		ColumnExpr("count(*) AS count").GroupExpr("1, 2"))
	latest := rd.NewSelect().TableExpr("(?) AS fundamental_counts", fundamental).
		ColumnExpr("value").
		ColumnExpr("first_value(label) OVER (PARTITION BY value ORDER BY latest DESC) AS label").
		ColumnExpr("latest, oldest, count")
	q := rd.NewSelect().TableExpr("(?) AS with_latest_labels", latest).
		ColumnExpr("value, label, sum(count) AS count, min(oldest) AS start_time, max(latest) AS end_time").
		GroupExpr("value, label")
	if timeBased {
		q = q.OrderExpr("start_time ASC")
	} else {
		q = q.OrderExpr("count DESC, label ASC")
	}
	var rows []countRow
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count events by %s: %w", countable, db.Translate(err))
	}
	if !timeBased {
		out := make([]EventCount, len(rows))
		for i, rw := range rows {
			out[i] = EventCount(rw)
		}
		return out, nil
	}
	out := make([]EventCount, len(buckets))
	for i, b := range buckets {
		out[i] = EventCount{Value: strconv.Itoa(i), Label: isoLabel(b.start), StartTime: types.From(b.start), EndTime: types.From(b.end)}
	}
	for _, rw := range rows {
		v, err := strconv.ParseFloat(rw.Value, 64)
		if err != nil {
			continue
		}
		if i := int64(v) - first; i >= 0 && i < int64(len(out)) {
			out[i].Count = rw.Count
		}
	}
	return out, nil
}

// countExprs are the SQL of a countable's value and label.
func (r *repo) countExprs(countable string, delta time.Duration) (string, string) {
	switch countable {
	case "event":
		return "events.event", "events.event"
	case "resource":
		if r.db.IsPostgres() {
			return "events.resource_id", "COALESCE(events.resource ->> 'prefect.resource.name', events.resource ->> 'prefect.name', events.resource_id)"
		}
		return "events.resource_id", `COALESCE(json_extract(events.resource, '$."prefect.resource.name"'), json_extract(events.resource, '$."prefect.name"'), events.resource_id)`
	}
	secs := strconv.FormatFloat(delta.Seconds(), 'f', -1, 64)
	if r.db.IsPostgres() {
		idx := "CAST(floor(extract(epoch FROM (events.occurred - TIMESTAMPTZ '2024-04-01 00:00:00+00')) / " + secs + ") AS BIGINT)"
		return "CAST(" + idx + " AS TEXT)", "CAST(" + idx + " AS TEXT)"
	}
	idx := "CAST(floor((CAST(strftime('%s', events.occurred) AS INTEGER) - " + strconv.FormatInt(pivot.Unix(), 10) + ") / " + secs + ") AS INTEGER)"
	return "CAST(" + idx + " AS TEXT)", "CAST(" + idx + " AS TEXT)"
}
