package api

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// chain applies middlewares so that the first is outermost.
func chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// recoverPanics turns a panic in a handler into a logged 500, so that no input
// can take the server down.
func recoverPanics(log *zap.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("handler panic", zap.String("path", r.URL.Path), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
					_ = WriteJSON(w, http.StatusInternalServerError, map[string]any{"exception_message": "Internal Server Error"})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// trimTrailingSlash serves "/api/flows/" and "/api/flows" alike without a
// redirect: a 307/301 would make some clients turn a POST into a GET.
func trimTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			r.URL.Path = strings.TrimRight(p, "/")
			if r.URL.RawPath != "" {
				r.URL.RawPath = strings.TrimRight(r.URL.RawPath, "/")
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies; decoding a larger one answers 413.
func limitBody(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n > 0 && r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// MinimumAPIVersion is the oldest client API version the server accepts, as
// Prefect's EnforceMinimumAPIVersion dependency has it.
const MinimumAPIVersion = "0.8.0"

// enforceAPIVersion checks the X-PREFECT-API-VERSION header exactly as
// Prefect does: absent is fine; it must be three integers "x.y.z"; older than
// the minimum answers 400. Health and version checks are exempt, as on Python.
func enforceAPIVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get("X-Prefect-Api-Version")
		if v == "" || r.URL.Path == "/api/health" || r.URL.Path == "/api/version" {
			next.ServeHTTP(w, r)
			return
		}
		if detail := checkAPIVersion(v); detail != "" {
			_ = WriteJSON(w, http.StatusBadRequest, map[string]any{"detail": detail})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func checkAPIVersion(v string) string {
	parts := strings.Split(v, ".")
	var got [3]int
	ok := len(parts) == 3
	for i := 0; ok && i < 3; i++ {
		n, err := strconv.Atoi(strings.TrimSpace(parts[i]))
		got[i], ok = n, err == nil
	}
	if !ok {
		return fmt.Sprintf("Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received %s", v)
	}
	minimum := [3]int{0, 8, 0}
	for i := range 3 {
		if got[i] != minimum[i] {
			if got[i] < minimum[i] {
				return fmt.Sprintf("The request specified API version %s but this server requires version %s or higher.", v, MinimumAPIVersion)
			}
			break
		}
	}
	return ""
}

// cors answers as Starlette's CORSMiddleware does with Prefect's settings
// (by default every origin, method and header is allowed).
func cors(cfg config.API) Middleware {
	allowAllOrigins := contains(cfg.CORSAllowedOrigins, "*")
	methods := strings.Join(cfg.CORSAllowedMethods, ", ")
	if contains(cfg.CORSAllowedMethods, "*") {
		methods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Responses differ by Origin, so caches must key on it (as Starlette does).
			w.Header().Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			allowed := allowAllOrigins || contains(cfg.CORSAllowedOrigins, origin)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				if !allowed {
					http.Error(w, "Disallowed CORS origin", http.StatusBadRequest)
					return
				}
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", allowOrigin(allowAllOrigins, origin))
				h.Set("Access-Control-Allow-Methods", methods)
				if contains(cfg.CORSAllowedHeaders, "*") {
					h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
				} else {
					h.Set("Access-Control-Allow-Headers", strings.Join(cfg.CORSAllowedHeaders, ", "))
				}
				h.Set("Access-Control-Max-Age", "600")
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte("OK"))
				return
			}
			if allowed {
				w.Header().Set("Access-Control-Allow-Origin", allowOrigin(allowAllOrigins, origin))
			}
			next.ServeHTTP(w, r)
		})
	}
}

func allowOrigin(all bool, origin string) string {
	if all {
		return "*"
	}
	return origin
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.TrimSpace(v) == s {
			return true
		}
	}
	return false
}
