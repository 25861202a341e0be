package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gorilla/mux"
	"go.uber.org/zap"
)

// Route is one endpoint. Path is relative to /api and written without a
// trailing slash ("/flows", "/flows/{id}"); both spellings are served.
type Route struct {
	Method  string
	Path    string
	Handler HandlerFunc
	// Raw, when set instead of Handler, is served as it is (websockets).
	Raw http.Handler
}

// Routes is what one module contributes to the router.
type Routes struct {
	Module string
	Routes []Route
}

// NewRouter builds the /api router from every module's routes. Routes are
// registered literal segments first, so that "/flows/filter" is tried before
// "/flows/{id}" whatever order fx hands the modules over in; a method and path
// registered twice fails start-up.
func NewRouter(sets []Routes, log *zap.Logger) (*mux.Router, error) {
	type entry struct {
		module string
		route  Route
	}
	var all []entry
	seen := map[string]string{}
	for _, set := range sets {
		for _, rt := range set.Routes {
			key := rt.Method + " " + rt.Path
			if other, dup := seen[key]; dup {
				return nil, fmt.Errorf("route %s is registered by both %s and %s", key, other, set.Module)
			}
			seen[key] = set.Module
			all = append(all, entry{set.Module, rt})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return pathLess(all[i].route.Path, all[j].route.Path) })

	// One flat router with the /api prefix in each path: a gorilla
	// subrouter answers 404 instead of 405 when a later route resets the
	// method mismatch.
	root := mux.NewRouter()
	root.NotFoundHandler = adapt(func(http.ResponseWriter, *http.Request) error { return NotFound("Not Found") }, log)
	root.MethodNotAllowedHandler = adapt(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", strings.Join(allowedMethods(root, r), ", "))
		return &Error{Status: http.StatusMethodNotAllowed, Detail: "Method Not Allowed"}
	}, log)
	for _, e := range all {
		h := e.route.Raw
		if h == nil {
			h = adapt(e.route.Handler, log.With(zap.String("module", e.module)))
		}
		root.Handle("/api"+e.route.Path, h).Methods(e.route.Method)
	}
	return root, nil
}

// allowedMethods lists the methods served at r's path, for a 405's Allow header.
func allowedMethods(root *mux.Router, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if root.Match(probe, &match) && match.MatchErr == nil {
			out = append(out, m)
		}
	}
	return out
}

// pathLess orders paths segment by segment with literals before variables.
func pathLess(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		av, bv := isVar(as[i]), isVar(bs[i])
		if av != bv {
			return !av
		}
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

func isVar(seg string) bool { return strings.HasPrefix(seg, "{") }
