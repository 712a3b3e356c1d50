package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelp: every command and subcommand of the command table prints its
// usage on stdout and exits 0 when asked for help in any of the ways, its
// lines no wider than usageWidth; none starts anything.
func TestHelp(t *testing.T) {
	// Defaults shown in the usage come from these: a long value could
	// make a line too wide.
	for _, env := range []string{"XRDTEST_MASTER", "XRDTEST_CA", "XRDTEST_API_TOKEN"} {
		t.Setenv(env, "")
	}
	type asking struct {
		path string   // the command, as in its usage
		args []string // how it is asked for help
	}
	var cases []asking
	add := func(path []string) {
		p := strings.Join(path, " ")
		for _, ask := range [][]string{{"--help"}, {"-h"}, {"help"}} {
			cases = append(cases, asking{p, append(append([]string{}, path...), ask...)})
		}
		cases = append(cases, asking{p, append([]string{"help"}, path...)})
	}
	cases = append(cases, asking{"", []string{"help"}}, asking{"", []string{"--help"}}, asking{"", []string{"-h"}})
	for _, c := range commands() {
		add([]string{c.name})
		for _, sub := range c.subs {
			add([]string{c.name, sub.name})
		}
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut)
			if code != 0 || errOut.Len() != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut.String())
			}
			if want := strings.TrimSpace("usage: xrdtest " + tc.path); !strings.Contains(out.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, out.String())
			}
			for i, line := range strings.Split(out.String(), "\n") {
				if n := len([]rune(strings.ReplaceAll(line, "\t", "        "))); n > usageWidth {
					t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
				}
			}
		})
	}
}

// TestUsageErrors: a command or subcommand run wrong prints its usage on
// stderr and exits 2.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: xrdtest COMMAND"},
		{[]string{"nope"}, `xrdtest: unknown command "nope"`},
		{[]string{"suite"}, "usage: xrdtest suite list"},
		{[]string{"suite", "toggle"}, `xrdtest suite: unknown subcommand "toggle"`},
		{[]string{"suite", "enable"}, "usage: xrdtest suite enable NAME"},
		{[]string{"image", "--nope"}, "usage: xrdtest image build"},
		{[]string{"run", "--nope", "s"}, "flag provided but not defined: -nope"},
		{[]string{"sync", "wait"}, "usage: xrdtest sync wait"},
		{[]string{"version", "--nope"}, "usage: xrdtest version"},
		{[]string{"check"}, "usage: xrdtest check"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q, want 2 and %q", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		text, indent string
		width        int
		want         string
	}{
		{"a b c", "", 3, "a b\nc\n"},
		{"a b c", "  ", 5, "  a b\n  c\n"},
		{"long-word x", "", 4, "long-word\nx\n"},
		{"a\n\nb", "", 10, "a\n\nb\n"},
	} {
		if got := wrap(tc.text, tc.indent, tc.width); got != tc.want {
			t.Errorf("wrap(%q, %q, %d) = %q, want %q", tc.text, tc.indent, tc.width, got, tc.want)
		}
	}
}
