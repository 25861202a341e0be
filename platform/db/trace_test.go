package db_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// TestQueriesAreTracedInsideARequestSpan: with a recording parent span (an
// HTTP request while tracing is on) each query gets a child span; without
// one, none is made.
func TestQueriesAreTracedInsideARequestSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	ctx := context.Background()
	d, err := db.Open(ctx, dbtest.Config(t, config.SQLite), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans without a parent span, want 0", n)
	}
	ctx, parent := tp.Tracer("test").Start(ctx, "request")
	if _, err := d.ExecContext(ctx, "SELECT 2"); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var found bool
	for _, s := range rec.Ended() {
		if strings.HasPrefix(s.Name(), "db ") && s.Parent().SpanID() == parent.SpanContext().SpanID() {
			found = true
		}
	}
	if !found {
		t.Fatalf("no db span under the request span; spans: %v", rec.Ended())
	}
}
