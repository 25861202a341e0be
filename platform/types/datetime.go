// Package types holds the value types shared by every module: Prefect's
// datetime with its JSON form and its database form on both dialects.
package types

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"time"
)

// DateTime is a UTC instant with microsecond precision, as Prefect stores and
// serialises it. JSON: "2025-01-21T12:34:56.123456Z" (the fraction is left out
// when zero, as pydantic does). Database: a fixed-width text that sorts in time
// order on SQLite, and a timestamptz on PostgreSQL.
type DateTime struct{ time.Time }

// storageLayout is fixed-width so that text comparison on SQLite is time order.
const storageLayout = "2006-01-02T15:04:05.000000Z"

// Now returns the current time truncated to Prefect's microsecond precision.
func Now() DateTime { return From(time.Now()) }

// From converts t to UTC with microsecond precision.
func From(t time.Time) DateTime { return DateTime{t.UTC().Truncate(time.Microsecond)} }

// Ptr is a convenience for optional fields.
func Ptr(t time.Time) *DateTime { d := From(t); return &d }

// String is the JSON form without quotes.
func (d DateTime) String() string {
	if d.Nanosecond() == 0 {
		return d.UTC().Format("2006-01-02T15:04:05Z")
	}
	return d.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// MarshalJSON writes Prefect's datetime form.
func (d DateTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON accepts ISO 8601 with or without an offset (naive times are
// UTC, as Prefect assumes) and with any fraction.
func (d *DateTime) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return fmt.Errorf("input should be a valid datetime")
	}
	t, err := Parse(s[1 : len(s)-1])
	if err != nil {
		return err
	}
	*d = From(t)
	return nil
}

var parseLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// Parse reads the datetime forms that Prefect clients send.
func Parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	// Python may write +00:00; Go's RFC 3339 parser takes it as it is.
	for _, layout := range parseLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("input should be a valid datetime, got %q", s)
}

// Value stores the fixed-width UTC text; PostgreSQL casts it to timestamptz.
func (d DateTime) Value() (driver.Value, error) {
	return d.UTC().Format(storageLayout), nil
}

// Scan reads what either driver returns for the column.
func (d *DateTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = DateTime{}
		return nil
	case time.Time:
		*d = From(v)
		return nil
	case string:
		return d.scanText(v)
	case []byte:
		return d.scanText(string(v))
	default:
		return fmt.Errorf("scan datetime: unsupported type %T", src)
	}
}

func (d *DateTime) scanText(s string) error {
	t, err := Parse(s)
	if err != nil {
		return fmt.Errorf("scan datetime: %w", err)
	}
	*d = From(t)
	return nil
}
