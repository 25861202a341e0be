package db

import (
	"context"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traceHook records a span per query. It asks the tracer first, so that with
// tracing off (the no-op provider) a query costs no formatting or allocation.
type traceHook struct {
	tracer trace.Tracer
	system attribute.KeyValue
}

func newTraceHook(dialect string) *traceHook {
	return &traceHook{tracer: otel.Tracer("prefect-server/db"), system: attribute.String("db.system", dialect)}
}

type spanKey struct{}

func (h *traceHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	ctx, span := h.tracer.Start(ctx, "db "+e.Operation(), trace.WithSpanKind(trace.SpanKindClient))
	return context.WithValue(ctx, spanKey{}, span)
}

func (h *traceHook) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	span.SetAttributes(h.system, attribute.String("db.statement", e.Query))
	if e.Err != nil {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End()
}
