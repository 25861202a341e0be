package events

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
)

// interactivePageSize is Prefect's INTERACTIVE_PAGE_SIZE: the default and
// the largest limit of POST /events/filter.
const interactivePageSize = 50

type handlers struct {
	repo       *repo
	pub        *publisher
	dist       *distributor
	sockets    *sockets
	cfg        config.Events
	lim        limits
	authString string
	log        *zap.Logger
}

type routesParams struct {
	fx.In
	LC     fx.Lifecycle
	Repo   *repo
	Pub    *publisher
	Dist   *distributor
	Events config.Events
	API    config.API
	Log    *zap.Logger
}

// newRoutes serves the events API. Its stop hook closes the websockets (and
// the live stream) after the HTTP server stopped and before the services
// stop, so that every event read is published before the persister drains.
func newRoutes(p routesParams) api.Routes {
	h := &handlers{repo: p.Repo, pub: p.Pub, dist: p.Dist, sockets: newSockets(), cfg: p.Events,
		lim: newLimits(p.Events), authString: p.API.AuthString, log: p.Log}
	p.LC.Append(fx.StopHook(func(ctx context.Context) error {
		return errors.Join(h.sockets.stop(ctx), h.dist.stop(ctx))
	}))
	return api.Routes{Module: "events", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/events", Handler: h.createEvents},
		{Method: http.MethodGet, Path: "/events/in", Raw: http.HandlerFunc(h.eventsIn)},
		{Method: http.MethodGet, Path: "/events/out", Raw: http.HandlerFunc(h.eventsOut)},
		{Method: http.MethodPost, Path: "/events/filter", Handler: h.filter},
		{Method: http.MethodGet, Path: "/events/filter/next", Handler: h.nextPage},
		{Method: http.MethodPost, Path: "/events/count-by/{countable}", Handler: h.countBy},
	}}
}

// EventPage is Prefect's EventPage.
type EventPage struct {
	Events   []*Event `json:"events"`
	Total    int      `json:"total"`
	NextPage *string  `json:"next_page"`
}

// filter is POST /events/filter: the first page of the matching events.
func (h *handlers) filter(w http.ResponseWriter, r *http.Request) error {
	var raw json.RawMessage
	limit := interactivePageSize
	if err := api.DecodeParams(r, api.Params{"filter": &raw, "limit": &limit}); err != nil {
		return err
	}
	if limit < 0 || limit > interactivePageSize {
		typ, msg, ctx := "greater_than_equal", "Input should be greater than or equal to 0", map[string]any{"ge": 0}
		if limit > 0 {
			typ, msg, ctx = "less_than_equal", "Input should be less than or equal to 50", map[string]any{"le": interactivePageSize}
		}
		return &api.ValidationError{Errors: []api.FieldError{{Type: typ, Loc: []any{"body", "limit"}, Msg: msg, Input: limit, Ctx: ctx}}}
	}
	f, err := decodeFilter(raw, time.Now(), "filter")
	if err != nil {
		return err
	}
	return h.page(w, r, f, -1, limit, 0)
}

// page answers one page; total < 0 means count it (the first page).
func (h *handlers) page(w http.ResponseWriter, r *http.Request, f *EventFilter, total, size, offset int) error {
	var err error
	if total < 0 {
		if total, err = h.repo.count(r.Context(), f); err != nil {
			return err
		}
	}
	evs, err := h.repo.query(r.Context(), f, size, offset)
	if err != nil {
		return err
	}
	out := EventPage{Events: evs, Total: total}
	if offset+size < total {
		link := nextPageLink(r, pageToken{Filter: f, Count: total, PageSize: size, Offset: offset + size})
		out.NextPage = &link
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// pageToken is what a next-page link carries (Prefect's to_page_token).
type pageToken struct {
	Filter   *EventFilter `json:"filter"`
	Count    int          `json:"count"`
	PageSize int          `json:"page_size"`
	Offset   int          `json:"offset"`
}

// nextPageLink is Prefect's link: the token base64-encoded twice; here also
// escaped for the query string (Prefect leaves "+" in it, which a client
// following the link turns into a space).
func nextPageLink(r *http.Request, t pageToken) string {
	b, _ := json.Marshal(t) // plain data always marshals
	inner := base64.StdEncoding.EncodeToString(b)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/api/events/filter/next?page-token=" +
		url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(inner)))
}

// nextPage is GET /events/filter/next?page-token=...; a token that does not
// decode is a 403, as in Prefect.
func (h *handlers) nextPage(w http.ResponseWriter, r *http.Request) error {
	raw, ok := r.URL.Query()["page-token"]
	if !ok || len(raw) == 0 {
		return &api.ValidationError{Errors: []api.FieldError{{Type: "missing", Loc: []any{"query", "page-token"}, Msg: "Field required"}}}
	}
	forbidden := &api.Error{Status: http.StatusForbidden, Detail: "Forbidden"}
	inner, err := decodeBase64(raw[0])
	if err != nil || len(inner) == 0 {
		return forbidden
	}
	body, err := decodeBase64(string(inner))
	if err != nil {
		return forbidden
	}
	var t struct {
		Filter   json.RawMessage `json:"filter"`
		Count    int             `json:"count"`
		PageSize int             `json:"page_size"`
		Offset   int             `json:"offset"`
	}
	if json.Unmarshal(body, &t) != nil || t.PageSize < 0 || t.Offset < 0 {
		return forbidden
	}
	f, err := decodeFilter(t.Filter, time.Now(), "filter")
	if err != nil {
		return forbidden.Wrap(err)
	}
	return h.page(w, r, f, t.Count, t.PageSize, t.Offset)
}

// decodeBase64 reads standard base64, tolerating a "+" turned into a space.
func decodeBase64(s string) ([]byte, error) {
	s = strings.ReplaceAll(s, " ", "+")
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// countBy is POST /events/count-by/{countable}.
func (h *handlers) countBy(w http.ResponseWriter, r *http.Request) error {
	countable := api.PathVar(r, "countable")
	if !slices.Contains(countables, countable) {
		return enumError([]any{"path", "countable"}, countable, countables)
	}
	var raw json.RawMessage
	unit := api.NewEnum("day", timeUnits...)
	interval := 1.0
	if err := api.DecodeParams(r, api.Params{"filter": &raw, "time_unit": unit, "time_interval": &interval}); err != nil {
		return err
	}
	if len(raw) == 0 || string(raw) == "null" {
		return &api.ValidationError{Errors: []api.FieldError{{Type: "missing", Loc: []any{"body", "filter"}, Msg: "Field required"}}}
	}
	if interval < 0.01 {
		return &api.ValidationError{Errors: []api.FieldError{{Type: "greater_than_equal", Loc: []any{"body", "time_interval"},
			Msg: "Input should be greater than or equal to 0.01", Input: interval, Ctx: map[string]any{"ge": 0.01}}}}
	}
	now := time.Now()
	f, err := decodeFilter(raw, now, "filter")
	if err != nil {
		return err
	}
	counts, err := h.repo.countBy(r.Context(), f, countable, unit.Value, interval, now)
	var cerr *countError
	if errors.As(err, &cerr) {
		return &api.Error{Status: http.StatusUnprocessableEntity, Detail: cerr.msg}
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, counts)
}

// enumError is pydantic's enum error at loc.
func enumError(loc []any, input string, allowed []string) error {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	expected := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return &api.ValidationError{Errors: []api.FieldError{{Type: "enum", Loc: loc, Msg: "Input should be " + expected,
		Input: input, Ctx: map[string]any{"expected": expected}}}}
}
