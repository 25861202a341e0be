package runs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/prefect-server/prefect-server/platform/api"
)

// decodeWithFilters reads a body of named parameters (params) plus the
// filter objects under keys, which it returns undecoded for the registry.
func decodeWithFilters(r *http.Request, keys []string, params api.Params) (api.Filters, error) {
	keepBody(r)
	if params == nil {
		params = api.Params{}
	}
	raws := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		params[k] = &raws[i]
	}
	if err := api.DecodeParams(r, params); err != nil {
		return nil, err
	}
	out := api.Filters{}
	for i, k := range keys {
		out[k] = raws[i]
	}
	return out, nil
}

// missing lists the required body parameters that are nil, in order, as
// FastAPI's "Field required" errors.
func missing(fields []string, present ...bool) []api.FieldError {
	var errs []api.FieldError
	for i, f := range fields {
		if !present[i] {
			errs = append(errs, api.Required(f, nil)...)
		}
	}
	return errs
}

// keptBody is a request body read once and kept, so that a 422 raised after
// decoding can echo it as Prefect's request_body.
type keptBody struct {
	*bytes.Reader
	raw []byte
}

func (keptBody) Close() error { return nil }

// keepBody reads r's body into memory (the server caps its size).
func keepBody(r *http.Request) {
	if _, ok := r.Body.(keptBody); ok || r.Body == nil {
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		// Leave what was read; the decoder reports the failure.
		b = nil
	}
	r.Body = keptBody{Reader: bytes.NewReader(b), raw: b}
}

// invalid is a 422 for errs found after decoding r's body.
func invalid(r *http.Request, errs []api.FieldError) error {
	e := &api.ValidationError{Errors: errs}
	if k, ok := r.Body.(keptBody); ok && json.Valid(k.raw) {
		e.Body = json.RawMessage(k.raw)
	}
	return e
}

// objectNotFound writes the 404 Prefect's ObjectNotFoundError handler
// answers (its body has exception_message, not detail).
func objectNotFound(w http.ResponseWriter, message string) error {
	return api.WriteJSON(w, http.StatusNotFound, map[string]string{"exception_message": message})
}

// withKeptBody fills a 422's request_body from r's kept body when the
// error was raised on a part of it (a filter decoded on its own).
func withKeptBody(r *http.Request, err error) error {
	var verr *api.ValidationError
	if errors.As(err, &verr) && verr.Body == nil {
		if k, ok := r.Body.(keptBody); ok && json.Valid(k.raw) {
			verr.Body = json.RawMessage(k.raw)
		}
	}
	return err
}

// bodyMissing reports whether r's kept body is empty or null, which a
// route whose whole body is one required value rejects as missing.
func bodyMissing(r *http.Request) bool {
	k, ok := r.Body.(keptBody)
	if !ok {
		return false
	}
	b := bytes.TrimSpace(k.raw)
	return len(b) == 0 || string(b) == "null"
}
