package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/prefect-server/prefect-server/platform/db"
)

// Error is an HTTP error with Prefect's {"detail": ...} body.
type Error struct {
	Status int
	Detail any
	// Headers are added to the response (e.g. Retry-After).
	Headers map[string]string
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %v: %v", e.Status, e.Detail, e.cause)
	}
	return fmt.Sprintf("%d %v", e.Status, e.Detail)
}

func (e *Error) Unwrap() error { return e.cause }

// NotFound is a 404 with Prefect's detail text, e.g. NotFound("Flow not found").
func NotFound(detail string) *Error { return &Error{Status: http.StatusNotFound, Detail: detail} }

// Conflict is a 409.
func Conflict(detail string) *Error { return &Error{Status: http.StatusConflict, Detail: detail} }

// BadRequest is a 400.
func BadRequest(detail string) *Error { return &Error{Status: http.StatusBadRequest, Detail: detail} }

// Forbidden is a 403.
func Forbidden(detail string) *Error { return &Error{Status: http.StatusForbidden, Detail: detail} }

// Wrap attaches the underlying cause (for the log) to an HTTP error.
func (e *Error) Wrap(cause error) *Error { c := *e; c.cause = cause; return &c }

// FieldError is one entry of a 422 body, shaped as pydantic reports it.
type FieldError struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// ValidationError is a 422 in the shape of Prefect's request-validation
// handler.
type ValidationError struct {
	Errors []FieldError
	Body   any
}

func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid request"
	}
	return fmt.Sprintf("invalid request: %v: %s", e.Errors[0].Loc, e.Errors[0].Msg)
}

// Invalid builds a 422 for one field; loc is the path below "body".
func Invalid(typ, msg string, input any, loc ...any) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Type: typ, Loc: append([]any{"body"}, loc...), Msg: msg, Input: input}}}
}

type validationBody struct {
	ExceptionMessage string       `json:"exception_message"`
	ExceptionDetail  []FieldError `json:"exception_detail"`
	RequestBody      any          `json:"request_body"`
}

// errorResponse maps any error to a status and a body, once, for every handler.
// IntegrityConflict is Prefect's detail for a unique or foreign key
// violation that no handler turned into a more precise answer.
const IntegrityConflict = "Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details."

func errorResponse(err error) (int, any, map[string]string) {
	var verr *ValidationError
	if errors.As(err, &verr) {
		return http.StatusUnprocessableEntity, validationBody{
			ExceptionMessage: "Invalid request received.",
			ExceptionDetail:  verr.Errors,
			RequestBody:      verr.Body,
		}, nil
	}
	var herr *Error
	if errors.As(err, &herr) {
		return herr.Status, map[string]any{"detail": herr.Detail}, herr.Headers
	}
	switch {
	case errors.Is(err, db.ErrNotFound):
		return http.StatusNotFound, map[string]any{"detail": "Not found"}, nil
	case errors.Is(err, db.ErrAlreadyExists), errors.Is(err, db.ErrForeignKey):
		// Prefect's integrity_exception_handler answers any IntegrityError so.
		return http.StatusConflict, map[string]any{"detail": IntegrityConflict}, nil
	}
	return http.StatusInternalServerError, map[string]any{"exception_message": "Internal Server Error"}, nil
}

// rawBody keeps a request body for a 422 response as JSON when it is JSON.
func rawBody(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return json.RawMessage(b) // as sent: key order and numbers kept
	}
	return string(b)
}
