package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/definition/checkreport"
)

// runCheck is `xrdtest check DIR...`: the report of package checkreport
// on the definitions of the repositories; status 1 when they have errors.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", "", stdout, stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of the summary")
	nowFlag := fs.String("now", "", "compute next runs from this RFC 3339 time instead of the clock (for reproducible output)")
	clusterDir := fs.String("clusters", "clusters", "cluster definitions folder, relative to each `DIR`")
	suiteDir := fs.String("suites", "test-suites", "test suite folder, relative to each DIR")
	fs.usage = "usage: xrdtest check [--json] DIR...\n\nLoads the cluster and test-suite definitions of each repository DIR, prints what\nthey define and every warning and error. Exits 0 only when there is no error."
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return fs.usageError()
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintf(stderr, "xrdtest check: --now: %v\n", err)
			return 2
		}
		now = t
	}
	var repos []definition.Repo
	for _, d := range fs.Args() {
		repos = append(repos, definition.Repo{Root: d, ClusterDir: *clusterDir, SuiteDir: *suiteDir})
	}
	set := definition.Load(ctx, repos, definition.Options{})
	var err error
	if *asJSON {
		err = checkreport.JSON(stdout, set, now)
	} else {
		err = checkreport.Text(stdout, set, now)
	}
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest check: %v\n", err)
		return 2
	}
	if len(set.Diagnostics.Errors()) > 0 {
		return 1
	}
	return 0
}
