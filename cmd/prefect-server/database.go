package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

// schema is what the database commands need from the assembled app.
type schema struct {
	fx.In
	DB   *db.DB
	Sets []migrate.Set `group:"migrations"`
}

// database runs `database upgrade` or `database reset`.
func database(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "upgrade" && args[0] != "reset") {
		return fmt.Errorf("usage: prefect-server database upgrade|reset [--yes]")
	}
	action := args[0]
	fs := flag.NewFlagSet("database "+action, flag.ContinueOnError)
	yes := fs.Bool("yes", false, "do not ask for confirmation (reset)")
	fs.BoolVar(yes, "y", false, "do not ask for confirmation (reset)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(flag.NewFlagSet("config", flag.ContinueOnError), nil, true)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Logging.Level)
	if err != nil {
		return fmt.Errorf("create logger: %w", err)
	}
	var s schema
	app := newApp(cfg, log, fx.Invoke(func(p schema) { s = p }))
	if err := app.Err(); err != nil {
		return fmt.Errorf("assemble server: %w", err)
	}
	defer s.DB.Close()
	ctx := context.Background()
	if action == "reset" {
		if !*yes && !confirm(stdout, "Reset the database "+string(cfg.Database.Dialect)+"? All data will be lost. [y/N] ") {
			return fmt.Errorf("reset cancelled")
		}
		if err := migrate.Reset(ctx, s.DB); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "Database dropped.")
	}
	applied, err := migrate.Up(ctx, s.DB, s.Sets, log.Named("migrate"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Database upgraded: %d migrations applied.\n", len(applied))
	return nil
}

func confirm(out io.Writer, prompt string) bool {
	fmt.Fprint(out, prompt)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n') // EOF reads as "no"
	return strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
}
