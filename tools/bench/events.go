package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// eventSocket speaks the websocket protocol of the official client's
// PrefectEventsClient: the "prefect" subprotocol, an auth message answered
// by auth_success, then one event per text frame, and a ping whose pong
// says every event before it was accepted.
type eventSocket struct {
	conn *websocket.Conn
}

func dialPrefectSocket(ctx context.Context, base, path string) (*websocket.Conn, error) {
	wsURL := "ws" + strings.TrimPrefix(base, "http") + path
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"prefect"}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	conn.SetReadLimit(16 << 20)
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type": "auth", "token": null}`)); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("%s auth: %w", path, err)
	}
	_, data, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(data), "auth_success") {
		conn.CloseNow()
		return nil, fmt.Errorf("%s auth: %s %v", path, data, err)
	}
	return conn, nil
}

func openEventSocket(ctx context.Context, base string) (*eventSocket, error) {
	conn, err := dialPrefectSocket(ctx, base, "/api/events/in")
	if err != nil {
		return nil, err
	}
	// Pongs are read by a reader goroutine that CloseRead starts.
	conn.CloseRead(context.WithoutCancel(ctx))
	return &eventSocket{conn: conn}, nil
}

func (s *eventSocket) send(ctx context.Context, event any) error {
	data, err := json.Marshal(event)
	if err != nil {
		return err
	}
	return s.conn.Write(ctx, websocket.MessageText, data)
}

// flush waits for the server's pong: every event sent before was accepted.
func (s *eventSocket) flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return s.conn.Ping(ctx)
}

func (s *eventSocket) close() { s.conn.Close(websocket.StatusNormalClosure, "") }

func isoNow(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// taskRunEvent is the prefect.task-run.<State> event the client's task
// engine emits on each state change of a task run in a flow run.
func taskRunEvent(taskRunID, flowRunID uuid.UUID, name, stateType, stateName string, runCount int, start, now time.Time) map[string]any {
	var startTime, endTime any
	if runCount > 0 {
		startTime = isoNow(start)
	}
	if stateType == "COMPLETED" {
		endTime = isoNow(now)
	}
	ts := isoNow(now)
	return map[string]any{
		"id":       uuid.New().String(),
		"occurred": ts,
		"event":    "prefect.task-run." + stateName,
		"resource": map[string]any{
			"prefect.resource.id":     "prefect.task-run." + taskRunID.String(),
			"prefect.resource.name":   name,
			"prefect.run-count":       fmt.Sprint(runCount),
			"prefect.state-message":   "",
			"prefect.state-name":      stateName,
			"prefect.state-timestamp": ts,
			"prefect.state-type":      stateType,
			"prefect.orchestration":   "client",
		},
		"related": []map[string]any{{
			"prefect.resource.id":   "prefect.flow-run." + flowRunID.String(),
			"prefect.resource.role": "flow-run",
			"prefect.resource.name": "bench",
		}},
		"payload": map[string]any{
			"intended":        map[string]any{"from": nil, "to": stateType},
			"initial_state":   nil,
			"validated_state": map[string]any{"type": stateType, "name": stateName, "message": "", "state_details": map[string]any{}, "data": nil},
			"task_run": map[string]any{
				"name": name, "flow_run_id": flowRunID.String(), "task_key": "bench_task-1", "dynamic_key": name,
				"cache_key": nil, "cache_expiration": nil, "task_version": nil,
				"empirical_policy": map[string]any{"max_retries": 0, "retry_delay_seconds": 0, "retries": 0, "retry_delay": 0},
				"tags":             []string{}, "labels": map[string]any{}, "task_inputs": map[string]any{},
				"state_type": stateType, "state_name": stateName, "run_count": runCount, "flow_run_run_count": 1,
				"expected_start_time": isoNow(start), "start_time": startTime, "end_time": endTime,
				"total_run_time": now.Sub(start).Seconds() * float64(min(runCount, 1)),
			},
		},
	}
}
