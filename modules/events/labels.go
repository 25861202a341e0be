package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Well-known labels of Prefect's resources.
const (
	LabelID   = "prefect.resource.id"
	LabelRole = "prefect.resource.role"
	LabelName = "prefect.resource.name"
)

// Label is one label of a resource.
type Label struct{ Key, Value string }

// Labels are a resource's labels in the order they were given: Prefect keeps
// a dict's insertion order, so the API returns them as the client sent them.
// A resource has few labels, so a slice beats a map here.
type Labels []Label

// L builds labels from key, value pairs: L(LabelID, "prefect.flow."+id, LabelName, name).
func L(kv ...string) Labels {
	l := make(Labels, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		l.Set(kv[i], kv[i+1])
	}
	return l
}

// Get returns the value of key and whether it is set.
func (l Labels) Get(key string) (string, bool) {
	for _, lb := range l {
		if lb.Key == key {
			return lb.Value, true
		}
	}
	return "", false
}

// ID is the resource's prefect.resource.id.
func (l Labels) ID() string { v, _ := l.Get(LabelID); return v }

// Role is a related resource's prefect.resource.role.
func (l Labels) Role() string { v, _ := l.Get(LabelRole); return v }

// Set sets key, keeping its position when it is already there (as a dict does).
func (l *Labels) Set(key, value string) {
	for i := range *l {
		if (*l)[i].Key == key {
			(*l)[i].Value = value
			return
		}
	}
	*l = append(*l, Label{key, value})
}

// without returns the labels other than the given keys (event_resources
// stores a resource without its id and role, which have their own columns).
func (l Labels) without(keys ...string) Labels {
	out := make(Labels, 0, len(l))
	for _, lb := range l {
		skip := false
		for _, k := range keys {
			skip = skip || lb.Key == k
		}
		if !skip {
			out = append(out, lb)
		}
	}
	return out
}

// MarshalJSON writes the labels as an object, in order.
func (l Labels) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(l) * 32)
	b.WriteByte('{')
	for i, lb := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, lb.Key)
		b.WriteByte(':')
		writeJSONString(&b, lb.Value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSONString writes s quoted; plain ASCII directly, anything else as
// encoding/json escapes it.
func writeJSONString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always marshals
			b.Write(enc)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// labelTypeError is a label whose value is not a string; Key locates it.
type labelTypeError struct {
	Key   string
	Input any
}

func (e *labelTypeError) Error() string { return fmt.Sprintf("label %q: not a string", e.Key) }

// errNotObject means the labels were not a JSON object.
var errNotObject = fmt.Errorf("labels: not an object")

// UnmarshalJSON reads an object of string values, keeping their order.
func (l *Labels) UnmarshalJSON(b []byte) error {
	if out, ok := parseLabels(b); ok {
		*l = out
		return nil
	}
	return l.unmarshalSlow(b)
}

// parseLabels is the fast path of UnmarshalJSON for the usual input, an
// object of strings; ok is false for anything else, which the slow path
// then accepts or explains.
func parseLabels(b []byte) (Labels, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	out := make(Labels, 0, 4)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := scanString(b, i)
		if !ok {
			return nil, false
		}
		if i = skipSpace(b, j); i >= len(b) || b[i] != ':' {
			return nil, false
		}
		val, j, ok := scanString(b, skipSpace(b, i+1))
		if !ok {
			return nil, false
		}
		out.Set(key, val)
		if i = skipSpace(b, j); i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return out, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the JSON string at b[i:], returning it and the index
// after it. Strings with escapes or non-ASCII bytes go through encoding/json
// (which also replaces invalid UTF-8, as it does everywhere else).
func scanString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	plain := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			plain = false
			j++
		case c == '"':
			if plain {
				return string(b[i+1 : j]), j + 1, true
			}
			var s string
			if json.Unmarshal(b[i:j+1], &s) != nil {
				return "", i, false
			}
			return s, j + 1, true
		case c < 0x20:
			return "", i, false
		case c >= 0x80:
			plain = false
		}
	}
	return "", i, false
}

func (l *Labels) unmarshalSlow(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errNotObject
	}
	out := make(Labels, 0, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		s, ok := v.(string)
		if !ok {
			return &labelTypeError{Key: key, Input: v}
		}
		out.Set(key, s)
	}
	*l = out
	return nil
}

// globMatch reports whether value matches a Prefect label pattern: "*" is
// any run of characters, "?" one character, everything else is literal and
// case matters (Python's fnmatchcase, restricted to what Prefect's SQL
// translation supports). A leading "!" negates the match; an absent value
// never matches (Prefect's events.schemas.matches).
func globMatch(pattern string, value string, present bool) bool {
	if !present {
		return false
	}
	negated := strings.HasPrefix(pattern, "!")
	ok := wildcard(strings.TrimPrefix(pattern, "!"), value)
	return ok != negated
}

// wildcard matches "*" and "?" against runes, iteratively with backtracking
// to the last star.
func wildcard(p, s string) bool {
	pr, sr := []rune(p), []rune(s)
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case pi < len(pr) && (pr[pi] == '?' || pr[pi] == sr[si]):
			pi++
			si++
		case pi < len(pr) && pr[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(pr) && pr[pi] == '*' {
		pi++
	}
	return pi == len(pr)
}
