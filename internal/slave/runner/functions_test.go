package runner

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestInstallFunctions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "etc", "XrdTest", "utils")
	path := filepath.Join(dir, "functions.sh")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // over an old file, then over itself
		if err := InstallFunctions(path); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != FunctionsSh {
		t.Errorf("content differs: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := InstallFunctions(filepath.Join(path, "sub", "functions.sh")); err == nil {
		t.Error("install under a file: no error")
	}
}

func TestFunctionsSh(t *testing.T) {
	t.Parallel()
	lib := filepath.Join(t.TempDir(), "functions.sh")
	if err := InstallFunctions(lib); err != nil {
		t.Fatal(err)
	}
	const (
		ts   = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`
		hms  = `\[\d\d:\d\d:\d\d\]\t`
		fail = "[echo to-out; echo to-err >&2; false]: to-out\nto-err\n"
	)
	for _, tc := range []struct {
		name, script string
		exit         int
		out          string // a regexp of the whole output
	}{
		{"log", `log hello  "big world"`, 0, `\[` + ts + `\] hello big world\n`},
		{"run success is silent", `run true; run echo hidden; run "echo x >&2"; echo after`, 0, "after\n"},
		{"run failure exits 1", `run "echo to-out; echo to-err >&2; false"; echo not reached`, 1,
			regexp.QuoteMeta(fail)},
		{"run failure exit status", `run exit 7; echo not reached`, 1, `\[exit 7\]: \n`},
		{"run without args", `run; echo not reached`, 1, "run: no command given\n"},
		{"run cd keeps the directory", `mkdir -p sub; run cd sub; basename "$PWD"`, 0, "work\n"},
		{"stamp", `stamp "echo one; echo two >&2; printf three; exit 3"; echo "rc=$?"`, 0,
			hms + "one\n" + hms + "two\n" + hms + "three\nrc=3\n"},
		{"stamp success", `stamp echo ok; echo "rc=$?"`, 0, hms + "ok\nrc=0\n"},
		{"assert_fail on failure", `assert_fail false; assert_fail "exit 2"; echo ok`, 0, "ok\n"},
		{"assert_fail on success", `assert_fail echo said; echo not reached`, 1,
			`said\nassert_fail: \[echo said\] succeeded, expected a failure\n`},
		{"no set -e", `false; echo still running`, 0, "still running\n"},
		// stdout goes to a file: stderr must follow it once sourced.
		{"stderr merged", `exec 3>&1 >captured; . ./lib; echo to-stderr >&2; exec >&3; echo "captured: $(cat captured)"`, 0,
			"captured: to-stderr\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c capture
			s := spec(t, &c, ". ./lib\n"+tc.script+"\n")
			s.Dir = filepath.Join(s.Dir, "work")
			if err := os.MkdirAll(s.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(lib, filepath.Join(s.Dir, "lib")); err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), s)
			if res.Err != nil || res.ExitCode != tc.exit {
				t.Errorf("result %+v (output %q), want exit %d", res, c.String(), tc.exit)
			}
			if !regexp.MustCompile(`\A` + tc.out + `\z`).MatchString(c.String()) {
				t.Errorf("output %q, want /%s/", c.String(), tc.out)
			}
		})
	}
}
