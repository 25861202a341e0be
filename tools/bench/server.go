package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// serverKind names the two servers compared.
type serverKind string

const (
	ours   serverKind = "ours"
	python serverKind = "python"
)

// target is one server binary with one database.
type target struct {
	kind   serverKind
	dbKind string // "sqlite" or "postgres"
	cfg    *config
}

func (t target) String() string { return string(t.kind) + "/" + t.dbKind }

// server is one running server process (a process group).
type server struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan error
}

// serverEnv is the environment both servers get: the same settings, the UI
// and analytics off, warnings and errors only in the logs.
func serverEnv(home, dbURL string) []string {
	env := []string{
		"PREFECT_HOME=" + home,
		"PREFECT_SERVER_DATABASE_CONNECTION_URL=" + dbURL,
		"PREFECT_SERVER_ANALYTICS_ENABLED=false",
		"PREFECT_UI_ENABLED=false",
		"PREFECT_SERVER_UI_ENABLED=false",
		"PREFECT_SERVER_LOGGING_LEVEL=WARNING",
		"PREFECT_LOGGING_SERVER_LEVEL=WARNING",
	}
	for _, kv := range os.Environ() {
		// Nothing of the caller's Prefect configuration leaks into a server.
		if !strings.HasPrefix(kv, "PREFECT_") {
			env = append(env, kv)
		}
	}
	return env
}

// start launches the server on a free port and returns once the process
// runs (not yet ready).
func (t target) start(home, dbURL string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	switch t.kind {
	case ours:
		cmd = exec.Command(t.cfg.oursBin, "start", "--host", "127.0.0.1", "--port", fmt.Sprint(port))
	case python:
		cmd = exec.Command(filepath.Join(t.cfg.venv, "bin", "prefect"), "server", "start",
			"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--no-ui")
	}
	cmd.Env = serverEnv(home, dbURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(home, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", t, err)
	}
	s := &server{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: logPath, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait(); logFile.Close() }()
	return s, nil
}

// waitReady polls GET /api/ready until it answers 200.
func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("server exited before ready (%v); log %s: %s", err, s.logPath, tail(s.logPath))
		default:
		}
		resp, err := c.Get(s.base + "/api/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s; log %s: %s", timeout, s.logPath, tail(s.logPath))
}

func (s *server) pgid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM to the whole group and SIGKILL after 15 s.
func (s *server) stop() {
	_ = syscall.Kill(-s.pgid(), syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.pgid(), syscall.SIGKILL)
		<-s.exited
	}
	// Children that outlived the leader (uvicorn workers) go too.
	_ = syscall.Kill(-s.pgid(), syscall.SIGKILL)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
}

// running is a started, ready server with its sampler and API client.
type running struct {
	srv     *server
	api     *api
	sampler *sampler
	idleRSS int64
}

// launch starts a server, waits until ready, and measures its idle RSS after
// a short settle.
func (t target) launch(ctx context.Context, home, dbURL string) (*running, time.Duration, error) {
	start := time.Now()
	srv, err := t.start(home, dbURL)
	if err != nil {
		return nil, 0, err
	}
	if err := srv.waitReady(t.cfg.readyTimeout); err != nil {
		srv.stop()
		return nil, 0, err
	}
	took := time.Since(start)
	r := &running{srv: srv, api: newAPI(srv.base, 64), sampler: startSampler(srv.pgid())}
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	r.idleRSS = r.sampler.sample().RSSBytes
	return r, took, nil
}

func (r *running) stop() {
	r.sampler.Stop()
	r.srv.stop()
}

var errSkipped = errors.New("skipped")
