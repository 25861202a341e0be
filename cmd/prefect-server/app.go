package main

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/config"
)

// newApp assembles the server from the platform and the compiled modules.
func newApp(cfg config.Config, log *zap.Logger, extra ...fx.Option) *fx.App {
	return fx.New(append(appOptions(cfg, log), extra...)...)
}

// appOptions is the whole fx graph of this build.
func appOptions(cfg config.Config, log *zap.Logger) []fx.Option {
	opts := []fx.Option{
		fx.Supply(cfg),
		fx.Supply(log),
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.ZapLogger{Logger: log.Named("fx")}
			// fx's own events, errors included, only at debug: a failed
			// start is reported once, by main, with the whole error.
			l.UseLogLevel(zapcore.DebugLevel)
			l.UseErrorLevel(zapcore.DebugLevel)
			return l
		}),
		fx.StartTimeout(cfg.Database.ConnectionTimeout + time.Minute),
		fx.StopTimeout(30 * time.Second),
		platform.Module,
	}
	return append(opts, moduleOptions()...)
}

// newLogger builds the structured logger at Prefect's level names.
func newLogger(level string) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(zapLevel(level))
	zc.Sampling = nil
	zc.EncoderConfig.TimeKey = "time"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.DisableStacktrace = true
	return zc.Build()
}

func zapLevel(level string) zapcore.Level {
	switch level {
	case "DEBUG":
		return zapcore.DebugLevel
	case "INFO":
		return zapcore.InfoLevel
	case "ERROR":
		return zapcore.ErrorLevel
	case "CRITICAL":
		return zapcore.DPanicLevel
	default:
		return zapcore.WarnLevel
	}
}
