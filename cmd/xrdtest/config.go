package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/xrdtest/xrdtest/internal/config"
)

// runConfig is `xrdtest config check FILE`: validate a master, hypervisor
// or slave configuration and show every key with its value and origin.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: xrdtest config check [--kind master|hypervisor|slave] [--json] FILE")
		return 2
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "", "master, hypervisor or slave (default: from the file name, XrdTest<Kind>.conf, else master)")
	asJSON := fs.Bool("json", false, "print the settings as JSON")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: xrdtest config check [--kind master|hypervisor|slave] [--json] FILE")
		return 2
	}
	file := fs.Arg(0)
	if *kind == "" {
		*kind = kindFromName(file)
	}
	var cfg daemonConfig
	switch *kind {
	case "master":
		cfg = config.DefaultMaster()
	case "hypervisor":
		cfg = config.DefaultHypervisor()
	case "slave":
		cfg = config.DefaultSlave()
	default:
		fmt.Fprintf(stderr, "xrdtest config check: unknown kind %q\n", *kind)
		return 2
	}
	warns, err := cfg.Load(file)
	if err == nil {
		err = cfg.Validate()
	}
	for _, w := range warns {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if err != nil {
		var errs interface{ Unwrap() []error }
		if errors.As(err, &errs) {
			for _, e := range errs.Unwrap() {
				fmt.Fprintf(stdout, "error: %v\n", e)
			}
		} else {
			fmt.Fprintf(stdout, "error: %v\n", err)
		}
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(cfg.Settings())
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range cfg.Settings() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, s.Value, s.Source)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%s configuration %s is valid (%d warnings)\n", *kind, file, len(warns))
	return 0
}

func kindFromName(file string) string {
	base := strings.ToLower(filepath.Base(file))
	for _, k := range []string{"hypervisor", "slave", "master"} {
		if strings.Contains(base, "xrdtest"+k) {
			return k
		}
	}
	return "master"
}
