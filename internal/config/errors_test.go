package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestLoadEveryError: the Load functions give every error of a file, each
// once, in file order, whether Load refused the value or Validate found
// it; "FILE" in want stands for the file's path.
func TestLoadEveryError(t *testing.T) {
	load := map[string]func(string) ([]Warning, error){
		"master": func(p string) ([]Warning, error) { _, w, err := LoadMaster(p); return w, err },
		"hypervisor": func(p string) ([]Warning, error) {
			_, w, err := LoadHypervisor(p)
			return w, err
		},
		"slave": func(p string) ([]Warning, error) { _, w, err := LoadSlave(p); return w, err },
	}
	tests := []struct {
		name, kind, text string
		want             []string
		warns            int
	}{
		{"bad repository type and a repository without its section", "master",
			"[general]\ntest-repos = a, b\n[test-repo-a]\ntype = svn\nlocal_path = /x\n",
			[]string{
				`FILE:2: [general] test-repos: repository "b" has no [test-repo-b] section`,
				`FILE:4: [test-repo-a] type: invalid value "svn": want localfs or git`,
			}, 0},
		{"bad values in three sections, a check across keys, unknown keys", "master",
			"[server]\nport = x\ncolour = blue\n[session]\nheartbeat_interval = 5\nheartbeat_timeout = 5\n[daemon]\nlog_level = LOUD\nlog_colour = red\n",
			[]string{
				`FILE:2: [server] port: invalid port "x": want a number 1-65535`,
				`FILE:6: [session] heartbeat_timeout: 5s must exceed heartbeat_interval 5s (FILE:5)`,
				`FILE:8: [daemon] log_level: unknown log level "LOUD": want NOTSET, DEBUG, INFO, WARN, WARNING, ERROR or CRITICAL`,
			}, 2},
		{"a refused type is not also missing", "master",
			"[general]\ntest-repos = r\n[test-repo-r]\ntype = svn\n",
			[]string{
				`FILE:3: [test-repo-r] local_path: missing: the repository's directory is required`,
				`FILE:4: [test-repo-r] type: invalid value "svn": want localfs or git`,
			}, 0},
		{"a refused interval is not compared with the timeout", "master",
			"[session]\nheartbeat_interval = soon\nheartbeat_timeout = 1\n",
			[]string{`FILE:2: [session] heartbeat_interval: invalid duration "soon": want seconds (3600) or a duration (90s, 5m, 1h)`}, 0},
		{"one error gives the one message", "master",
			"[general]\ntest-repos = r\n[test-repo-r]\ntype = svn\nlocal_path = /x\n",
			[]string{`FILE:4: [test-repo-r] type: invalid value "svn": want localfs or git`}, 0},
		{"errors of the file, then of the defaults", "hypervisor",
			"[test_master]\nport = x\n[libvirt]\nforce_tcg = maybe\n[hypervisor]\nname = a b\n",
			[]string{
				`FILE:2: [test_master] port: invalid port "x": want a number 1-65535`,
				`FILE:4: [libvirt] force_tcg: invalid switch "maybe": want 0/1, true/false, yes/no or on/off`,
				`FILE:6: [hypervisor] name: must not contain spaces or '/'`,
				`default: [test_master] ip: empty: want the master's host name or address`,
			}, 1}, // storage_pool not set
		{"refused and invalid values mixed in file order", "slave",
			"[test_master]\nip = m\nca_fingerprint = nothex\n[retention]\nmax_age = 30m\n[slave]\nname = a b\n",
			[]string{
				`FILE:3: [test_master] ca_fingerprint: invalid SHA-256 fingerprint "nothex": want 64 hex digits`,
				`FILE:5: [retention] max_age: 30m0s is below the minimum of 1h0m0s (0: keep forever)`,
				`FILE:7: [slave] name: must not contain spaces or '/'`,
			}, 0},
		{"syntax errors stop before the values", "master",
			"[server]\nport = x\nport 1\n[daemon]\nlevel\n",
			[]string{
				`FILE:3: [server]: syntax error: expected "key = value", "key: value", "[section]", a comment, or an indented continuation`,
				`FILE:5: [daemon]: syntax error: expected "key = value", "key: value", "[section]", a comment, or an indented continuation`,
			}, 0},
		{"a key before any section stops the parsing", "slave",
			"ip = m\n[test_master]\nport = x\n",
			[]string{`FILE:1: no section header`}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConf(t, tc.text)
			warns, err := load[tc.kind](path)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(strings.ReplaceAll(err.Error(), path, "FILE"), "\n")
			equal(t, "errors", got, tc.want)
			if len(warns) != tc.warns {
				t.Errorf("%d warnings, want %d: %q", len(warns), tc.warns, warningStrings(warns))
			}
			var list Errors
			if !errors.As(err, &list) || len(list) != len(tc.want) {
				t.Errorf("errors.As(Errors) = %v, %d errors; want %d", errors.As(err, &list), len(list), len(tc.want))
			}
			var ce *Error
			if !errors.As(err, &ce) || strings.ReplaceAll(ce.Error(), path, "FILE") != tc.want[0] {
				t.Errorf("errors.As(*Error) = %v, want the first error %q", ce, tc.want[0])
			}
		})
	}
}

// A key refused by the file and then set right is checked again.
func TestSetAfterRefusedValue(t *testing.T) {
	m := DefaultMaster()
	_, err := m.Load(writeConf(t, "[session]\nheartbeat_interval = soon\n"))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load: %v, want ErrInvalid", err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("Validate after a refused value: %v, want nil (the refusal is the error)", err)
	}
	if err := m.Set("session.heartbeat_interval", "20s", "flag --hb"); err != nil {
		t.Fatal(err)
	}
	want := "default: [session] heartbeat_timeout: 10s must exceed heartbeat_interval 20s (flag --hb)"
	if err := m.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %q", err, want)
	}
}

func TestJoin(t *testing.T) {
	at := func(file string, line int, key string) *Error {
		return &Error{Source: Source{File: file, Line: line}, Section: "s", Key: key, Err: ErrInvalid, Msg: "bad"}
	}
	flag := &Error{Source: Source{Origin: "flag --x"}, Section: "s", Key: "x", Err: ErrMissing, Msg: "missing"}
	other := errors.New("open b.conf: no such file")
	tests := []struct {
		name string
		errs []error
		want []string // nil: Join returns nil
	}{
		{"nothing", nil, nil},
		{"only nils", []error{nil, nil}, nil},
		{"one", []error{at("a.conf", 3, "k")}, []string{"a.conf:3: [s] k: bad"}},
		{"by line, others after in their order",
			[]error{flag, at("a.conf", 9, "late"), other, Errors{at("a.conf", 2, "early"), nil}, at("a.conf", 9, "same")},
			[]string{"a.conf:2: [s] early: bad", "a.conf:9: [s] late: bad", "a.conf:9: [s] same: bad",
				"flag --x: [s] x: missing", "open b.conf: no such file"}},
		{"files in the order they appear",
			[]error{at("b.conf", 5, "b5"), at("a.conf", 1, "a1"), at("b.conf", 1, "b1")},
			[]string{"b.conf:1: [s] b1: bad", "b.conf:5: [s] b5: bad", "a.conf:1: [s] a1: bad"}},
		{"wrapped errors keep their text",
			[]error{fmt.Errorf("reading: %w", at("a.conf", 7, "k")), at("a.conf", 1, "k")},
			[]string{"a.conf:1: [s] k: bad", "reading: a.conf:7: [s] k: bad"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Join(tc.errs...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Join = %#v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Join = nil")
			}
			equal(t, "Join", strings.Split(err.Error(), "\n"), tc.want)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
		})
	}
	err := Join(flag, other)
	if !errors.Is(err, ErrMissing) || !errors.Is(err, other) || errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is on %q: ErrMissing %v, other %v, ErrInvalid %v",
			err, errors.Is(err, ErrMissing), errors.Is(err, other), errors.Is(err, ErrInvalid))
	}
}

// Errors marshal as Warnings do; an error without a location, as its
// message.
func TestErrorsJSON(t *testing.T) {
	errs := Errors{
		&Error{Source: Source{File: "m.conf", Line: 2}, Section: "server", Key: "port", Err: ErrInvalid, Msg: "invalid port"},
		&Error{Source: Source{Origin: "default"}, Section: "test_master", Key: "ip", Err: ErrMissing},
		os.ErrNotExist,
	}
	b, err := json.Marshal(errs)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"source":{"file":"m.conf","line":2},"section":"server","key":"port","message":"invalid port"},` +
		`{"source":{"origin":"default"},"section":"test_master","key":"ip","message":"missing setting"},` +
		`{"message":"file does not exist"}]`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
}
