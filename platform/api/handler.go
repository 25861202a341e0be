// Package api is the platform's HTTP layer: the handler adapter, JSON
// decoding with Prefect's validation errors, the router that modules
// contribute routes to, the middleware and the server's lifecycle.
package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"go.uber.org/zap"
)

// HandlerFunc is a handler that returns its error instead of writing it, so
// that errors are mapped to HTTP in one place.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapt turns a HandlerFunc into an http.Handler that writes errors in
// Prefect's shapes and logs server errors.
func adapt(h HandlerFunc, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		status, body, headers := errorResponse(err)
		if status >= 500 {
			log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		} else if ce := log.Check(zap.DebugLevel, "request rejected"); ce != nil {
			ce.Write(zap.String("path", r.URL.Path), zap.Int("status", status), zap.Error(err))
		}
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		_ = WriteJSON(w, status, body) // the client is gone if this fails
	})
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// NoContent answers 204.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PathUUID reads a UUID path variable. A malformed id cannot name an object,
// so it answers 404 with the object's not-found detail, e.g. "Flow not found".
func PathUUID(r *http.Request, name, notFound string) (uuid.UUID, error) {
	id, err := uuid.Parse(mux.Vars(r)[name])
	if err != nil {
		return uuid.Nil, NotFound(notFound).Wrap(err)
	}
	return id, nil
}

// PathVar reads a path variable.
func PathVar(r *http.Request, name string) string { return mux.Vars(r)[name] }

// IsNotFound reports whether err means a missing object.
func IsNotFound(err error) bool {
	var herr *Error
	return errors.As(err, &herr) && herr.Status == http.StatusNotFound
}
