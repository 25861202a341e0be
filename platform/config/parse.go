package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Values are parsed the way pydantic parses Prefect's settings, with two
// deliberate extensions: surrounding whitespace is ignored everywhere, and
// every duration also takes a number of seconds (Prefect's float settings
// do; its timedelta settings only take duration strings).

var errInvalid = errors.New("invalid value")

// parseBool accepts what pydantic accepts for a bool, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a valid boolean (want true/false, 1/0, yes/no or on/off)", s)
}

// intPattern is pydantic's lax integer: digits with single underscores
// between them, optionally followed by a zero fraction ("4.0").
var intPattern = regexp.MustCompile(`^[+-]?[0-9]+(_[0-9]+)*(\.0*)?$`)

func parseInt(s string) (int, error) {
	t := strings.TrimSpace(s)
	if !intPattern.MatchString(t) {
		return 0, fmt.Errorf("%q is not a valid integer", s)
	}
	if i := strings.IndexByte(t, '.'); i >= 0 {
		t = t[:i]
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 0)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return int(n), nil
}

func parsePort(s string) (int, error) {
	n, err := parseInt(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a valid port", s)
	}
	return n, nil
}

// parseDuration takes a number of seconds ("20", "0.5"), an ISO 8601
// duration ("P7D", "PT1H30M", "-P1D") or Python's timedelta forms
// ("7 days, 0:00:00", "2 days", "1d", "01:30:00", "01:30").
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXpP") {
		return secondsToDuration(s, f)
	}
	sign := 1.0
	switch {
	case strings.HasPrefix(t, "-"):
		sign, t = -1, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	var secs float64
	var err error
	if strings.HasPrefix(t, "P") {
		secs, err = parseISODuration(t[1:])
	} else {
		secs, err = parseTimedelta(t)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a valid duration (want seconds, ISO 8601 like P7D or PT30S, or like \"7 days, 0:00:00\")", s)
	}
	return secondsToDuration(s, sign*secs)
}

func secondsToDuration(s string, secs float64) (time.Duration, error) {
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("%q is not a valid duration", s)
	}
	if secs < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	if secs*float64(time.Second) > float64(math.MaxInt64) {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(math.Round(secs * float64(time.Second))), nil
}

var (
	isoDateUnits = map[byte]float64{'Y': 365 * 86400, 'M': 30 * 86400, 'W': 7 * 86400, 'D': 86400}
	isoTimeUnits = map[byte]float64{'H': 3600, 'M': 60, 'S': 1}
	isoNumber    = regexp.MustCompile(`^[0-9]+([.,][0-9]*)?`)
)

// parseISODuration parses what follows the "P" of an ISO 8601 duration, as
// pydantic does: years are 365 days, months 30 days, fractions allowed.
func parseISODuration(t string) (float64, error) {
	units, inTime := isoDateUnits, false
	total, parts := 0.0, 0
	for t != "" {
		if t[0] == 'T' {
			if inTime {
				return 0, errInvalid
			}
			units, inTime, t = isoTimeUnits, true, t[1:]
			continue
		}
		num := isoNumber.FindString(t)
		if num == "" || len(t) == len(num) {
			return 0, errInvalid
		}
		f, err := strconv.ParseFloat(strings.Replace(num, ",", ".", 1), 64)
		if err != nil {
			return 0, errInvalid
		}
		unit, ok := units[t[len(num)]]
		if !ok {
			return 0, errInvalid
		}
		total += f * unit
		parts++
		t = t[len(num)+1:]
	}
	if parts == 0 {
		return 0, errInvalid
	}
	return total, nil
}

var (
	daysPrefix  = regexp.MustCompile(`(?i)^([0-9]+) *(days|day|d)(, *| +|$)`)
	clockFormat = regexp.MustCompile(`^([0-9]+):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]+))?)?$`)
)

// parseTimedelta parses Python's str(timedelta) forms: an optional
// "N day(s)" part and an optional H:MM[:SS[.ffffff]] clock.
func parseTimedelta(t string) (float64, error) {
	total := 0.0
	if m := daysPrefix.FindStringSubmatch(t); m != nil {
		days, _ := strconv.ParseFloat(m[1], 64)
		total, t = days*86400, t[len(m[0]):]
		if t == "" {
			return total, nil
		}
	}
	m := clockFormat.FindStringSubmatch(t)
	if m == nil {
		return 0, errInvalid
	}
	h, _ := strconv.ParseFloat(m[1], 64)
	mins, _ := strconv.ParseFloat(m[2], 64)
	total += h*3600 + mins*60
	if m[3] != "" {
		secs, _ := strconv.ParseFloat(m[3], 64)
		total += secs
	}
	if m[4] != "" {
		frac, _ := strconv.ParseFloat("0."+m[4], 64)
		total += frac
	}
	return total, nil
}

// parseKind maps a Prefect implementation module (or the short word) to a
// broker kind.
func parseKind(s, memoryModule, redisModule string) (BrokerKind, error) {
	switch strings.TrimSpace(s) {
	case memoryModule, string(KindMemory):
		return KindMemory, nil
	case redisModule, string(KindRedis):
		return KindRedis, nil
	}
	return "", fmt.Errorf("%q is not supported (want %s or %s, or memory or redis)", s, memoryModule, redisModule)
}

var logLevels = []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

func parseLogLevel(s string) (string, error) {
	level := strings.ToUpper(strings.TrimSpace(s))
	for _, l := range logLevels {
		if l == level {
			return level, nil
		}
	}
	return "", fmt.Errorf("%q is not a valid log level (want %s)", s, strings.Join(logLevels, ", "))
}

// splitList splits Prefect's comma-separated lists, trimming each item.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
