package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/config"
)

// The daemons' loading gives every error at once: of the file, of the
// environment and flags, and of validating the result; a value refused
// by the file and set right by a flag leaves the file's error alone.
func TestLoadDaemonConfigEveryError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slave.conf")
	text := "[test_master]\nport = x\nca_file = ca.pem\n[daemon]\nlog_level = LOUD\n[slave]\ncolour = blue\nname = a b\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XRDTEST_RETENTION_MAX_AGE", "30")
	var stderr bytes.Buffer
	err := loadDaemonConfig(config.DefaultSlave(), path, "", []string{"daemon.log_level=DEBUG", "nonsense"},
		map[string]string{"test_master.ca_fingerprint": strings.Repeat("ab", 32)}, &stderr)
	want := []string{
		`FILE:2: [test_master] port: invalid port "x": want a number 1-65535`,
		`FILE:3: [test_master] ca_file: set only one of ca_fingerprint (flag) and ca_file (FILE:3)`,
		`FILE:5: [daemon] log_level: unknown log level "LOUD": want NOTSET, DEBUG, INFO, WARN, WARNING, ERROR or CRITICAL`,
		`FILE:8: [slave] name: must not contain spaces or '/'`,
		`env XRDTEST_RETENTION_MAX_AGE: [retention] max_age: invalid age "30": a number without a unit; want a number and a unit (w, d, h, m, s) such as 90d, 2w, 36h, or 0 to keep forever`,
		`--set "nonsense": want section.key=value`,
	}
	if err == nil {
		t.Fatal("no error")
	}
	if got := strings.Split(strings.ReplaceAll(err.Error(), path, "FILE"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(stderr.String(), "warning: "+path+":7: [slave] colour: unknown key: ignored") {
		t.Errorf("no warning for the unknown key:\n%s", stderr.String())
	}
}

// TestDaemonConfigErrors: each daemon refuses a wrong value with exit 2
// and a message naming the file, line, section and key, and warns about an
// unknown key, before starting anything.
func TestDaemonConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cmd, text, err, warn string
	}{
		{"master", "[server]\nport = 20000\n[daemon]\nlog_level = LOUD\nlog_colour = blue\n",
			`:4: [daemon] log_level: unknown log level "LOUD"`, ":5: [daemon] log_colour: unknown key: ignored"},
		{"hypervisor", "[test_master]\nip = m\nretries = 3\n[daemon]\nlog_format = xml\n",
			`:5: [daemon] log_format: invalid value "xml": want text or json`, ":3: [test_master] retries: unknown key: ignored"},
		{"slave", "[test_master]\nip = m\nport = twenty\n[slave]\ncolour = blue\n",
			`:3: [test_master] port: invalid port "twenty"`, ":5: [slave] colour: unknown key: ignored"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.cmd+".conf")
			os.WriteFile(path, []byte(tc.text), 0o644)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{tc.cmd, "-c", path, "--set", "daemon.pid_file_path=" + filepath.Join(dir, "x.pid")}, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), path+tc.err) || !strings.Contains(stderr.String(), "warning: "+path+tc.warn) {
				t.Errorf("exit %d, stderr:\n%s\nwant %q and %q", code, stderr.String(), path+tc.err, path+tc.warn)
			}
			if _, err := os.Stat(filepath.Join(dir, "x.pid")); err == nil {
				t.Errorf("a pid file was written")
			}
		})
	}
}
