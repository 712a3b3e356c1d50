// Package benchkit holds what the benchmark programs under bench/ share:
// building the xrdtest binary they run, and their settings from the
// environment.
package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles ./cmd/xrdtest of the module the running benchmark
// belongs to into bin; prog names the benchmark (go run ./PROG) in the
// error when it runs outside the module.
func Build(ctx context.Context, bin, prog string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = "/usr/local/go/bin/go" // where scripts/setup.sh expects Go
	}
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return fmt.Errorf("run the benchmark from the xrdtest module (go run ./%s)", prog)
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/xrdtest")
	cmd.Dir = filepath.Dir(mod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/xrdtest: %w", err)
	}
	return nil
}

// EnvOr is the environment variable k, or def when it is unset or empty.
func EnvOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
