package logs

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/types"
)

// sorts are Prefect's LogSort values with their SQL; the id (a time-ordered
// UUIDv7) breaks ties so that pages never overlap.
var (
	sortNames = []string{"TIMESTAMP_ASC", "TIMESTAMP_DESC"}
	sortSQL   = map[string]string{
		"TIMESTAMP_ASC":  "log.timestamp ASC, log.id ASC",
		"TIMESTAMP_DESC": "log.timestamp DESC, log.id DESC",
	}
)

type handlers struct {
	repo   *repo
	cfg    config.API
	stream *streamConfig
	broker broker.Broker
	log    *zap.Logger
}

func newRoutes(r *repo, cfg config.API, sc *streamConfig, b broker.Broker, log *zap.Logger) api.Routes {
	h := &handlers{repo: r, cfg: cfg, stream: sc, broker: b, log: log.Named("logs")}
	return api.Routes{Module: "logs", Routes: []api.Route{
		{Method: http.MethodPost, Path: "/logs", Handler: h.create},
		{Method: http.MethodPost, Path: "/logs/filter", Handler: h.filter},
		{Method: http.MethodGet, Path: "/logs/out", Raw: http.HandlerFunc(h.out)},
	}}
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return api.BadRequest("could not read request body").Wrap(err)
	}
	items, err := decodeCreates(b)
	if err != nil {
		return err
	}
	now := types.Now()
	logs := make([]Log, len(items))
	for i := range items {
		logs[i] = items[i].newLog(newID(), now)
	}
	if err := h.repo.create(r.Context(), logs); err != nil {
		return err
	}
	h.publish(r.Context(), logs)
	return api.WriteJSON(w, http.StatusCreated, nil)
}

// newID is a time-ordered id, as Prefect gives logs (uuid7).
func newID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}

func (h *handlers) filter(w http.ResponseWriter, r *http.Request) error {
	var (
		page api.Page
		f    *logFilter
	)
	sort := api.NewEnum("TIMESTAMP_ASC", sortNames...)
	params := page.Params()
	params["logs"] = &f
	params["sort"] = sort
	if err := api.DecodeParams(r, params); err != nil {
		return err
	}
	if f != nil {
		if errs := f.Validate(); len(errs) > 0 {
			for i := range errs {
				errs[i].Loc = append([]any{"body", "logs"}, errs[i].Loc[1:]...)
			}
			return &api.ValidationError{Errors: errs}
		}
	}
	limit, err := page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	logs, err := h.repo.list(r.Context(), f, sortSQL[sort.Value], limit, page.Offset)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, logs)
}

// publish sends stored logs to the "logs" topic for the websockets when
// PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED is set. The logs are stored
// already, so a failure is only logged, as Prefect's publisher does.
func (h *handlers) publish(ctx context.Context, logs []Log) {
	if !h.stream.publish || len(logs) == 0 {
		return
	}
	msgs := make([]broker.Message, 0, len(logs))
	for i := range logs {
		data, err := marshalLog(&logs[i])
		if err != nil {
			h.log.Warn("encode log for the stream", zap.Error(err))
			continue
		}
		msgs = append(msgs, broker.Message{Data: data, Attributes: map[string]string{"log_id": logs[i].ID.String()}})
	}
	if err := h.broker.Publish(ctx, topic, msgs...); err != nil {
		h.log.Warn("publish logs", zap.Error(fmt.Errorf("publish %d logs: %w", len(msgs), err)))
	}
}
