package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// errNotBuilt marks a route the server answers with 404: that workload is
// reported as "n/a (route not built)" instead of a number.
var errNotBuilt = errors.New("route not built")

// api is a keep-alive HTTP client for one server that counts every non-2xx
// answer and every retry, so no throughput hides its failures.
type api struct {
	base    string
	http    *http.Client
	errors  atomic.Int64 // non-2xx answers and transport errors
	retries atomic.Int64
	sample  atomic.Pointer[string] // the first failure since counters(), for the report
}

func newAPI(base string, conns int) *api {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		// Under uvicorn's 5 s keep-alive timeout: a POST on a connection the
		// server has just closed fails and is not retried by net/http.
		IdleConnTimeout: 4 * time.Second,
	}
	return &api{base: base, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// counters returns and resets the error and retry counts.
func (a *api) counters() (errs, retries int64) {
	return a.errors.Swap(0), a.retries.Swap(0)
}

// forget drops the counts and the failure so far (a probe's 404).
func (a *api) forget() {
	a.counters()
	a.firstFailure()
}

// firstFailure returns and clears the first failure recorded since the last call.
func (a *api) firstFailure() string {
	if p := a.sample.Swap(nil); p != nil {
		return *p
	}
	return ""
}

func (a *api) failure(err error) {
	msg := err.Error()
	a.sample.CompareAndSwap(nil, &msg)
}

// call sends body as JSON and decodes a 2xx answer into out (when not nil).
// 5xx, 429 and transport errors are retried up to 3 times, as the Prefect
// client does; a 404 returns errNotBuilt; other 4xx are not retried.
func (a *api) call(ctx context.Context, method, path string, body, out any) (time.Duration, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			a.retries.Add(1)
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			}
		}
		start := time.Now()
		status, data, err := a.do(ctx, method, path, payload)
		took := time.Since(start)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return took, ctx.Err()
			}
			a.errors.Add(1)
			lastErr = err
			a.failure(err)
			continue
		case status >= 200 && status < 300:
			if out != nil && len(data) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					a.errors.Add(1)
					return took, fmt.Errorf("decode %s %s: %w", method, path, err)
				}
			}
			return took, nil
		}
		a.errors.Add(1)
		lastErr = fmt.Errorf("%s %s: %d %s", method, path, status, truncate(data, 200))
		a.failure(lastErr)
		if status == http.StatusNotFound {
			return took, fmt.Errorf("%w: %w", errNotBuilt, lastErr)
		}
		if status < 500 && status != http.StatusTooManyRequests {
			return took, lastErr
		}
	}
	return 0, lastErr
}

func (a *api) do(ctx context.Context, method, path string, payload []byte) (int, []byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// routeBuilt probes a route with an empty filter: 404 (or 405, when only a
// wider pattern such as /flow_runs/{id} matches) means the server has no
// such route yet.
func (a *api) routeBuilt(ctx context.Context, path string) bool {
	status, _, err := a.do(ctx, http.MethodPost, path, []byte(`{}`))
	return err == nil && status != http.StatusNotFound && status != http.StatusMethodNotAllowed
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
