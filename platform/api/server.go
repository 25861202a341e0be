package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
)

// NewHandler assembles the middleware and the router of every module.
// With traced false no tracing code runs per request.
func NewHandler(cfg config.API, sets []Routes, log *zap.Logger, traced bool) (http.Handler, error) {
	router, err := NewRouter(sets, log)
	if err != nil {
		return nil, err
	}
	if traced {
		router.Use(otelmux.Middleware("prefect-server"))
	}
	return chain(router,
		recoverPanics(log),
		cors(cfg),
		trimTrailingSlash,
		limitBody(cfg.MaxBodyBytes),
		enforceAPIVersion,
	), nil
}

// Server is the HTTP server. Start listens before returning, so that a busy
// port fails start-up instead of a goroutine later.
type Server struct {
	srv  *http.Server
	log  *zap.Logger
	done chan error
	addr net.Addr
}

// NewServer prepares the server on cfg.Host:cfg.Port.
func NewServer(cfg config.API, h http.Handler, log *zap.Logger) *Server {
	return &Server{
		srv: &http.Server{
			Addr:              net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       cfg.KeepAlive,
			ErrorLog:          zap.NewStdLog(log.Named("http")),
		},
		log:  log,
		done: make(chan error, 1),
	}
}

// Start listens and serves in the background.
func (s *Server) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.srv.Addr, err)
	}
	s.addr = ln.Addr()
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.log.Info("serving the API", zap.String("url", "http://"+s.addr.String()+"/api"))
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() net.Addr { return s.addr }

// Stop stops accepting connections and waits for in-flight requests.
func (s *Server) Stop(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	return <-s.done
}
