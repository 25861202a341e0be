package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
)

// TestAppGraphIsComplete validates the fx graph of this build (run with and
// without -tags slim): a missing provider fails here, not at a user's start.
func TestAppGraphIsComplete(t *testing.T) {
	home := t.TempDir()
	cfg, err := config.Load(func(name string) (string, bool) {
		if name == "PREFECT_HOME" {
			return home, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.ValidateApp(appOptions(cfg, zap.NewNop())...); err != nil {
		t.Fatalf("fx graph of modules %v: %v", moduleNames(), err)
	}
}

func TestVersionListsModules(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	for _, m := range moduleNames() {
		if !strings.Contains(out.String(), m) {
			t.Fatalf("version output %q lacks module %s", out.String(), m)
		}
	}
}

func TestInvalidConfigNamesTheVariable(t *testing.T) {
	t.Setenv("PREFECT_SERVER_API_PORT", "abc")
	var out bytes.Buffer
	if code := run([]string{"start"}, &out, &out); code != 1 || !strings.Contains(out.String(), "PREFECT_SERVER_API_PORT") {
		t.Fatalf("exit %d, output %q: want exit 1 naming the variable", code, out.String())
	}
}
