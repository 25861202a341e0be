// Package tracing sets up OpenTelemetry: an OTLP/HTTP exporter when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT is set, the no-op provider otherwise.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"

	"github.com/prefect-server/prefect-server/platform/config"
)

// Provider owns the tracer provider, if any.
type Provider struct {
	sdk *sdktrace.TracerProvider
}

// Enabled reports whether spans are exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// New installs the global tracer provider. The exporter reads the rest of
// the standard OTEL_EXPORTER_OTLP_* variables (headers, TLS) itself.
func New(ctx context.Context, cfg config.Tracing, version string) (*Provider, error) {
	if cfg.OTLPEndpoint == "" {
		return &Provider{}, nil
	}
	var opts []otlptracehttp.Option
	if strings.HasPrefix(cfg.OTLPEndpoint, "http://") {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP trace exporter for %s: %w", cfg.OTLPEndpoint, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Provider{sdk: tp}, nil
}

// Shutdown flushes pending spans.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down tracing: %w", err)
	}
	return nil
}
