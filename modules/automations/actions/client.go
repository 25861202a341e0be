package actions

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// apiClient calls this server's own API in process, as Prefect's actions
// call it through their OrchestrationClient (an ASGI transport, no socket):
// every action goes through the same validation and orchestration rules as a
// client's request, and this package depends on no other module's Go API.
type apiClient struct{ handler http.Handler }

// response is an API answer.
type response struct {
	Status int
	Body   []byte
}

// detail is the response's "detail" when it has one (Prefect's error body).
func (r response) detail() any {
	var body struct {
		Detail any `json:"detail"`
	}
	if json.Unmarshal(r.Body, &body) != nil {
		return nil
	}
	return body.Detail
}

// automationHeaders name the automation a request comes from, as Prefect's
// actions send them.
func automationHeaders(id, name string) http.Header {
	h := http.Header{}
	h.Set("Prefect-Automation-ID", id)
	h.Set("Prefect-Automation-Name", base64.StdEncoding.EncodeToString([]byte(name)))
	return h
}

// do sends one request to the API (path below /api) with a JSON body (nil
// for none).
func (c *apiClient) do(ctx context.Context, headers http.Header, method, path string, body any) (response, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{}, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://prefect-in-memory/api"+path, r)
	if err != nil {
		return response{}, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if req.Body == nil {
		req.Body = http.NoBody // as a server hands every handler a body
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := &recorder{header: http.Header{}}
	c.handler.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return response{Status: w.status, Body: w.body.Bytes()}, nil
}

// recorder is the in-memory ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
