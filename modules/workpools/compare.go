package workpools

import (
	"bytes"
	"encoding/json"
)

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// jsonEqual compares two values by their canonical JSON (object keys sorted).
func jsonEqual(a, b any) bool {
	return bytes.Equal(canonical(a), canonical(b))
}

func canonical(v any) []byte {
	if raw, ok := v.(json.RawMessage); ok {
		v = decodeAny(raw)
	} else {
		b, _ := json.Marshal(v) // model values always encode
		v = decodeAny(b)
	}
	out, _ := json.Marshal(v) // maps encode with sorted keys
	return out
}
