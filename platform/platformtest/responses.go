package platformtest

import (
	"encoding/json"
	"net/http"
)

// FieldError is one entry of a 422 body's exception_detail.
type FieldError struct {
	Type  string          `json:"type"`
	Loc   json.RawMessage `json:"loc"`
	Msg   string          `json:"msg"`
	Input json.RawMessage `json:"input"`
}

// Invalid sends a request that must be refused as invalid (422, Prefect's
// "Invalid request received." body) and returns the first error.
func (a *App) Invalid(method, path string, body any) FieldError {
	a.t.Helper()
	status, raw := a.Do(method, path, body)
	var got struct {
		Message string       `json:"exception_message"`
		Detail  []FieldError `json:"exception_detail"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || status != http.StatusUnprocessableEntity ||
		got.Message != "Invalid request received." || len(got.Detail) == 0 {
		a.t.Fatalf("%s %s: got %d %.400s, want a 422 validation body", method, path, status, raw)
	}
	return got.Detail[0]
}

// Detail sends a request, checks the status and returns the body's
// "detail" as JSON text (e.g. `"Flow not found."`).
func (a *App) Detail(method, path string, body any, wantStatus int) string {
	a.t.Helper()
	status, raw := a.Do(method, path, body)
	var got struct{ Detail json.RawMessage }
	if err := json.Unmarshal(raw, &got); err != nil || status != wantStatus {
		a.t.Fatalf("%s %s: got %d %.400s, want %d with a detail", method, path, status, raw, wantStatus)
	}
	return string(got.Detail)
}
