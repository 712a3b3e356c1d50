package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/xrdtest/xrdtest/internal/api"
)

// clientFlags adds --master, --token and --ca to a command's flags; the
// function returned makes the client they describe (its error: a bad
// --ca).
func clientFlags(fs *flag.FlagSet) func() (*api.Client, error) {
	base := fs.String("master", envOr("XRDTEST_MASTER", "http://127.0.0.1:8080"), "the master's web `URL` (env XRDTEST_MASTER)")
	token := fs.String("token", "", "API token for actions (default: env XRDTEST_API_TOKEN)")
	caFile := fs.String("ca", envOr("XRDTEST_CA", ""), "trust the CA in this PEM `file` for an https master, besides the system's (env XRDTEST_CA; the master's own: STATE_DIR/ca/ca.pem)")
	return func() (*api.Client, error) {
		t := *token
		if t == "" {
			t = os.Getenv("XRDTEST_API_TOKEN")
		}
		c, err := api.NewClient(api.Options{URL: *base, Token: t, CAFile: *caFile})
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		return c, nil
	}
}

// who is the user name actions are recorded with (a hint: the master
// knows only that the API token was given).
func who() string { return os.Getenv("USER") }

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("bad session id %q", s)
	}
	return id, nil
}

// listFlag is a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
