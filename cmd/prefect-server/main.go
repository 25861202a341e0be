// Command prefect-server is a drop-in replacement for the Prefect 3 server.
//
//	prefect-server start [--host H] [--port P] [--no-services] [--log-level L]
//	prefect-server services
//	prefect-server database upgrade|reset [--yes]
//	prefect-server version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/memtrim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: prefect-server <command> [flags]

commands:
  start      serve the API and run the background services (default)
  services   run the background services only
  database   upgrade | reset: manage the database schema
  version    print the version and the modules compiled in
`

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "start"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "start":
		err = start(args, stdout, false)
	case "services":
		err = start(args, stdout, true)
	case "database":
		err = database(args, stdout)
	case "version":
		fmt.Fprintf(stdout, "prefect-server %s (Prefect API %s)\nmodules: %s\n", platform.Version, "0.8.4", strings.Join(moduleNames(), ", "))
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var exit exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return int(exit)
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "prefect-server: %v\n", err)
	return 1
}

// exitCode carries a non-zero exit requested by the app (a failed service).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

// loadConfig reads the environment, then applies flags (flags win).
func loadConfig(fs *flag.FlagSet, args []string, servicesOnly bool) (config.Config, error) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return cfg, err
	}
	host := fs.String("host", cfg.API.Host, "address to listen on (PREFECT_SERVER_API_HOST)")
	port := fs.Int("port", cfg.API.Port, "port to listen on (PREFECT_SERVER_API_PORT)")
	noServices := fs.Bool("no-services", false, "serve the API only, without background services")
	level := fs.String("log-level", cfg.Logging.Level, "DEBUG, INFO, WARNING, ERROR or CRITICAL (PREFECT_SERVER_LOGGING_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *port < 0 || *port > 65535 {
		return cfg, fmt.Errorf("--port: %d is not a valid port", *port)
	}
	cfg.API.Host, cfg.API.Port = *host, *port
	cfg.Logging.Level = strings.ToUpper(*level)
	cfg.Services.RunServices = !*noServices
	cfg.Services.RunAPI = !servicesOnly
	return cfg, nil
}

func start(args []string, stdout io.Writer, servicesOnly bool) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	cfg, err := loadConfig(fs, args, servicesOnly)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Logging.Level)
	if err != nil {
		return fmt.Errorf("create logger: %w", err)
	}
	defer log.Sync() //nolint:errcheck // stderr sync fails harmlessly on some terminals
	memtrim.SetHeapLimit()
	if err := memtrim.NoReadahead(); err != nil {
		log.Warn("memory advice failed", zap.Error(err))
	}

	app := newApp(cfg, log)
	if err := app.Err(); err != nil {
		return fmt.Errorf("assemble server: %w", err)
	}
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := memtrim.StartupDone(); err != nil {
		log.Warn("releasing start-up memory failed", zap.Error(err))
	}
	if !servicesOnly {
		fmt.Fprintf(stdout, "prefect-server %s: API at http://%s:%d/api (%s)\n", platform.Version, cfg.API.Host, cfg.API.Port, cfg.Database.Dialect)
	}
	sig := waitForStop(app)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if sig.ExitCode != 0 {
		return exitCode(sig.ExitCode)
	}
	return nil
}

// waitForStop returns on SIGINT/SIGTERM or when the app asks to stop.
func waitForStop(app *fx.App) fx.ShutdownSignal {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		return fx.ShutdownSignal{Signal: s}
	case s := <-app.Wait():
		return s
	}
}
