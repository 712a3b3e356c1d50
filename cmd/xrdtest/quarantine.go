package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
)

// runQuarantine is `xrdtest quarantine SUITE CASE --reason TEXT --until
// DATE`.
func runQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("quarantine", "usage: xrdtest quarantine --reason TEXT --until DATE SUITE CASE\n\n"+
		"Sets a test case aside until DATE: it still runs and its results are\n"+
		"shown, but its failures neither fail the sessions started meanwhile nor\n"+
		"send alerts. xrdtest unquarantine ends it sooner.", stdout, stderr)
	reason := cmd.String("reason", "", "why (required)")
	until := cmd.String("until", "", "the end: YYYY-MM-DD (midnight, local time) or an RFC 3339 time (required)")
	pos, c, code, ok := cmd.connect(args, 2, 2)
	if !ok {
		return code
	}
	if strings.TrimSpace(*reason) == "" {
		return cmd.fail(2, fmt.Errorf("--reason is required"))
	}
	end, err := parseUntil(*until)
	if err != nil {
		return cmd.fail(2, err)
	}
	q, err := c.Quarantine(ctx, pos[0], pos[1], api.QuarantineRequest{Reason: *reason, Until: end, By: who()})
	if err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "case %s of suite %s quarantined until %s: %s\n", q.Case, q.Suite, q.Until.Local().Format(time.DateTime), q.Reason)
	return 0
}

// runUnquarantine is `xrdtest unquarantine SUITE CASE`.
func runUnquarantine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("unquarantine", "usage: xrdtest unquarantine SUITE CASE\n\nEnds a test case's quarantine: its failures count again.", stdout, stderr)
	pos, c, code, ok := cmd.connect(args, 2, 2)
	if !ok {
		return code
	}
	u, err := c.Unquarantine(ctx, pos[0], pos[1], who())
	if err != nil {
		return cmd.fail(1, err)
	}
	fmt.Fprintf(stdout, "case %s of suite %s no longer quarantined\n", u.Case, u.Suite)
	return 0
}

// parseUntil reads a date (midnight, local time) or an RFC 3339 time.
func parseUntil(s string) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--until %q: want YYYY-MM-DD or an RFC 3339 time", s)
	}
	return t, nil
}
