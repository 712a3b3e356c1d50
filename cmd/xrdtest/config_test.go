package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/config"
)

// TestConfigCheckKind checks that `config check` tells the kind of a file
// from its sections when its name does not, and says which and why: a
// hypervisor file named h.conf was checked as a master's, its bad
// [libvirt] force_tcg only an unknown-section warning.
func TestConfigCheckKind(t *testing.T) {
	const hyp = "[test_master]\nip = master.example.org\n[libvirt]\nforce_tcg = %s\n"
	tests := []struct {
		name, file, text string
		args             []string
		code             int
		want             []string
	}{
		{"hypervisor by its sections", "h.conf", strings.Replace(hyp, "%s", "maybe", 1), nil, 1,
			[]string{"checking h.conf as a hypervisor configuration (from its sections [test_master], [libvirt])", "[libvirt] force_tcg"}},
		{"valid hypervisor", "h.conf", strings.Replace(hyp, "%s", "1", 1), nil, 0,
			[]string{"hypervisor configuration", "libvirt.force_tcg", "is valid"}},
		{"slave: [test_master] alone", "s.conf", "[test_master]\nip = master.example.org\n[daemon]\nlog_level = DEBUG\n", nil, 0,
			[]string{"as a slave configuration (from its sections [test_master] and no", "slave.work_dir"}},
		{"slave: [slave]", "s.conf", "[test_master]\nip = m\n[slave]\nname = srv1\n", nil, 0,
			[]string{"as a slave configuration (from its sections [test_master], [slave])"}},
		{"master by its sections", "m.conf", "[server]\nport = 20001\n[webserver]\nport = 8081\n", nil, 0,
			[]string{"as a master configuration (from its sections [server], [webserver])", "server.port"}},
		{"nothing tells: master", "x.conf", "[daemon]\nlog_level = INFO\n", nil, 0,
			[]string{"as a master configuration (the default: neither the file name nor the sections tell)"}},
		{"the name tells", "XrdTestSlave.conf", "[test_master]\nip = m\n", nil, 0,
			[]string{"as a slave configuration (from the file name XrdTestSlave.conf)"}},
		{"the name and the sections disagree", "XrdTestMaster.conf", strings.Replace(hyp, "%s", "1", 1), nil, 0,
			[]string{"note: ", "has the sections of a hypervisor configuration ([test_master], [libvirt]); give --kind hypervisor", "as a master configuration"}},
		{"--kind wins", "h.conf", "[libvirt]\nforce_tcg = 1\n", []string{"--kind", "slave"}, 0,
			[]string{"as a slave configuration (--kind)", "unknown section"}},
		{"sections of several kinds", "h.conf", "[general]\nstate_dir = /tmp\n[libvirt]\nforce_tcg = 1\n", nil, 2,
			[]string{"sections of several kinds (master: [general]; hypervisor: [libvirt]): give --kind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"config", "check"}, tt.args...), path)
			code := run(context.Background(), args, &stdout, &stderr)
			out := strings.ReplaceAll(stdout.String()+stderr.String(), path, filepath.Base(path))
			if code != tt.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// With --json the standard output stays the settings alone.
func TestConfigCheckKindJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.conf")
	if err := os.WriteFile(path, []byte("[test_master]\nip = m\n[libvirt]\nforce_tcg = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--json", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s%s", code, stdout.String(), stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "[") || !strings.Contains(stderr.String(), "as a hypervisor configuration") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// TestConfigCheckEveryError: `config check` prints every error of a file,
// in file order, and their count; with --json, one object holding the
// errors and warnings. "FILE" in want stands for the file's path.
func TestConfigCheckEveryError(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // the error lines
		summary    string
	}{
		{"bad repository type and a repository without its section",
			"[general]\ntest-repos = a, b\ncolour = blue\n[test-repo-a]\ntype = svn\nlocal_path = /x\n[server]\nport = x\n",
			[]string{
				`error: FILE:2: [general] test-repos: repository "b" has no [test-repo-b] section`,
				`error: FILE:5: [test-repo-a] type: invalid value "svn": want localfs or git`,
				`error: FILE:8: [server] port: invalid port "x": want a number 1-65535`,
			}, "master configuration FILE has 3 errors (1 warning)"},
		{"one error", "[server]\nport = 70000\n",
			[]string{`error: FILE:2: [server] port: invalid port "70000": want a number 1-65535`},
			"master configuration FILE has 1 error (0 warnings)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "XrdTestMaster.conf")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"config", "check", path}, &stdout, &stderr); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			var errLines []string
			for _, l := range strings.Split(strings.ReplaceAll(stdout.String(), path, "FILE"), "\n") {
				if strings.HasPrefix(l, "error: ") {
					errLines = append(errLines, l)
				}
			}
			if !slices.Equal(errLines, tt.want) {
				t.Errorf("error lines:\n%s\nwant:\n%s", strings.Join(errLines, "\n"), strings.Join(tt.want, "\n"))
			}
			if out := strings.ReplaceAll(stdout.String(), path, "FILE"); !strings.Contains(out, tt.summary+"\n") {
				t.Errorf("output lacks %q:\n%s", tt.summary, out)
			}

			stdout.Reset()
			stderr.Reset()
			if code := run(context.Background(), []string{"config", "check", "--json", path}, &stdout, &stderr); code != 1 {
				t.Errorf("--json: exit code %d, want 1", code)
			}
			var got struct {
				Warnings []config.Warning `json:"warnings"`
				Errors   []struct {
					Source  config.Source `json:"source"`
					Section string        `json:"section"`
					Key     string        `json:"key"`
					Message string        `json:"message"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("--json: stdout is not one JSON object: %v\n%s", err, stdout.String())
			}
			var jsonLines []string
			for _, e := range got.Errors {
				jsonLines = append(jsonLines, fmt.Sprintf("error: %s: [%s] %s: %s", strings.ReplaceAll(e.Source.String(), path, "FILE"), e.Section, e.Key, e.Message))
			}
			if !slices.Equal(jsonLines, tt.want) {
				t.Errorf("--json errors:\n%s\nwant:\n%s", strings.Join(jsonLines, "\n"), strings.Join(tt.want, "\n"))
			}
			if got.Warnings == nil || !strings.Contains(strings.ReplaceAll(stderr.String(), path, "FILE"), tt.summary+"\n") {
				t.Errorf("--json: warnings %v; stderr lacks %q:\n%s", got.Warnings, tt.summary, stderr.String())
			}
		})
	}
}
