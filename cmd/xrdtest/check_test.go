package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const corpus = "../../internal/definition/testdata/corpus"

// TestCheckGolden runs `xrdtest check` on each corpus repository and
// compares the JSON and text outputs with testdata/check/*.golden.
func TestCheckGolden(t *testing.T) {
	for _, repo := range []string{"head", "y2012", "broken", "warnings"} {
		for _, format := range []string{"json", "text"} {
			t.Run(repo+"/"+format, func(t *testing.T) {
				args := []string{"check", "--now", "2026-01-01T00:00:00Z"}
				if format == "json" {
					args = append(args, "--json")
				}
				args = append(args, filepath.Join(corpus, repo))
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), args, &stdout, &stderr)
				wantCode := 0
				if repo == "broken" {
					wantCode = 1
				}
				if code != wantCode {
					t.Errorf("exit code = %d, want %d; stderr: %s", code, wantCode, stderr.String())
				}
				if format == "json" {
					var v map[string]any
					if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
						t.Fatalf("output is not one JSON object: %v", err)
					}
					for _, k := range []string{"clusters", "suites", "warnings", "errors"} {
						if _, ok := v[k]; !ok {
							t.Errorf("JSON has no %q key", k)
						}
					}
				}
				golden := filepath.Join("testdata", "check", repo+"."+format+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(stdout.Bytes(), want) {
					t.Errorf("output differs from %s (rerun with -update and review the diff):\n%s", golden, stdout.String())
				}
			})
		}
	}
}

func TestCheckIsDeterministic(t *testing.T) {
	args := []string{"check", "--json", "--now", "2026-01-01T00:00:00Z", filepath.Join(corpus, "head"), filepath.Join(corpus, "y2012")}
	var first []byte
	for i := range 3 {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
		}
		if i == 0 {
			first = stdout.Bytes()
		} else if !bytes.Equal(first, stdout.Bytes()) {
			t.Fatal("two runs printed different JSON")
		}
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "--bogus", "x"}, {"check", "--now", "yesterday", "x"}, {"nosuchcommand"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: nothing on stderr", args)
		}
	}
}

func TestCheckNotARepo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"check", t.TempDir()}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, stdout.String())
	}
	if !bytes.Contains(stdout.Bytes(), []byte("is not a definitions repository")) {
		t.Errorf("no explanation:\n%s", stdout.String())
	}
}

func TestConfigCheck(t *testing.T) {
	orig := "../../internal/config/testdata/orig"
	for _, f := range []string{"XrdTestMaster.conf", "XrdTestHypervisor.conf", "XrdTestSlave.conf"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"config", "check", filepath.Join(orig, f)}, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d\n%s%s", f, code, stdout.String(), stderr.String())
		}
		if !bytes.Contains(stdout.Bytes(), []byte("is valid")) {
			t.Errorf("%s:\n%s", f, stdout.String())
		}
	}
	bad := filepath.Join(t.TempDir(), "XrdTestMaster.conf")
	os.WriteFile(bad, []byte("[server]\nport = 70000\nbogus = 1\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", bad}, &stdout, &stderr); code != 1 {
		t.Errorf("bad file: exit %d", code)
	}
	for _, want := range []string{"error: " + bad + ":2: [server] port", "warning: " + bad + ":3: [server] bogus"} {
		if !bytes.Contains(stdout.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}
