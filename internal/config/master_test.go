package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func warningStrings(ws []Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// writeConf writes text to a file in a temporary directory and returns
// its path.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "master.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMasterOriginal(t *testing.T) {
	const path = "testdata/orig/XrdTestMaster.conf"
	m, warns, err := LoadMaster(path)
	if err != nil {
		t.Fatalf("LoadMaster: %v", err)
	}
	// The example's secrets are the first an attacker tries.
	weak, warns := splitWeakSecrets(warns)
	if got := warningStrings(weak); len(got) != 2 || !strings.HasPrefix(got[0], path+":16: [server] connection_passwd: the enrollment token is trivially guessable") ||
		!strings.HasPrefix(got[1], path+":36: [webserver] suite_run_pass: the web password is trivially guessable") {
		t.Errorf("weak secret warnings: %q", got)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %q", warningStrings(warns))
	}
	equal(t, "General", m.General, MasterGeneral{
		TestRepos:         []string{"local", "remote"},
		SuiteSessionsFile: "/var/log/XrdTest/suite_history.bin",
		StateDir:          "/var/lib/xrdtest/master",
	})
	examples := abs(t, "testdata/examples") // local_path=../examples, relative to testdata/orig
	equal(t, "Repos", m.Repos, []Repo{
		{Name: "local", Type: RepoLocalFS, LocalPath: examples, ClusterDefsPath: "clusters", SuiteDefsPath: "test-suites",
			RemoteBranch: "origin/master", LocalBranch: "master", PollInterval: 30 * time.Second, Source: Source{File: path, Line: 39}},
		{Name: "remote", Type: RepoGit, LocalPath: "/var/tmp/some-repo", ClusterDefsPath: "clusters", SuiteDefsPath: "test-suites",
			RemoteRepo: "http://someserver.com/repos/some-repo.git", RemoteBranch: "origin/master", LocalBranch: "master",
			PollInterval: 30 * time.Second, Source: Source{File: path, Line: 52}},
	})
	equal(t, "ClusterDir", m.Repos[0].ClusterDir(), filepath.Join(examples, "clusters"))
	equal(t, "SuiteDir", m.Repos[1].SuiteDir(), "/var/tmp/some-repo/test-suites")
	equal(t, "Server", m.Server, Server{IP: "0.0.0.0", Port: 20000, ConnectionPasswd: "some_password"})
	equal(t, "Webserver", m.Webserver, Webserver{WebpageDir: "/usr/share/XrdTest/webpage", Protocol: "https", Port: 8443, SuiteRunPass: "somepass", PublicPages: true})
	equal(t, "Scheduler", m.Scheduler, Scheduler{Enabled: true, Overlap: "queue"})
	equal(t, "Session", m.Session, DefaultMaster().Session)
	equal(t, "Security", m.Security, MasterSecurity{
		CertFile: "/etc/XrdTest/certs/mastercert.pem", KeyFile: "/etc/XrdTest/certs/masterkey.pem",
		CACertFile: "/etc/XrdTest/certs/cacert.pem", CAKeyFile: "/etc/XrdTest/certs/cakey.pem",
	})
	equal(t, "Daemon", m.Daemon, Daemon{PidFilePath: "/var/run/XrdTest/XrdTestMaster.pid",
		LogFilePath: "/var/log/XrdTest/XrdTestMaster.log", LogLevel: "INFO", LogFormat: "text"}) // "INFO " in the file
	for key, want := range map[string]string{
		"server.port":                  path + ":20",
		"webserver.port":               path + ":33",
		"test-repo-remote.remote_repo": path + ":64",
		"daemon.log_level":             path + ":108",
		"webserver.webpage_dir":        "default",
		"session.stage_timeout":        "default",
	} {
		if got := m.Source(key).String(); got != want {
			t.Errorf("Source(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestMasterFull(t *testing.T) {
	const path = "testdata/master-full.conf"
	m, warns, err := LoadMaster(path)
	if err != nil {
		t.Fatalf("LoadMaster: %v", err)
	}
	_, warns = splitWeakSecrets(warns)
	if len(warns) != 0 {
		t.Errorf("warnings: %q", warningStrings(warns))
	}
	equal(t, "General", m.General, MasterGeneral{TestRepos: []string{"local", "remote"},
		SuiteSessionsFile: "/var/log/XrdTest/suite_history.bin", StateDir: "/var/lib/xrdtest/master",
		Database: "postgres://xrdtest:db-secret@/xrdtest?host=/run/postgresql"})
	equal(t, "repo paths", []string{m.Repos[0].LocalPath, m.Repos[1].LocalPath}, []string{"/srv/xrdtest/local", "/srv/xrdtest/remote"})
	equal(t, "Webserver", m.Webserver, Webserver{WebpageDir: "/usr/share/XrdTest/webpage", Protocol: "https", Port: 8443,
		SuiteRunPass: "run-me", APIToken: "api-secret", APITokens: "ci:ci-token-0123456789abcdef,\nalice:alice-token-0123456789abcdef",
		BaseURL: "https://xrdtest.example.org", PublicPages: false})
	equal(t, "Session", m.Session, Session{StageTimeout: time.Hour, SlaveWaitTimeout: 5 * time.Minute,
		HeartbeatInterval: 2 * time.Second, HeartbeatTimeout: 10 * time.Second, ReconnectGrace: 10 * time.Second, StartClusters: true, MaxHold: 4 * time.Hour})
	equal(t, "Daemon.LogLevel", m.Daemon.LogLevel, LogLevel("DEBUG"))
	equal(t, "Daemon.LogFormat", m.Daemon.LogFormat, "json")
	// Every key of the master appears in the example, so that it documents
	// them all.
	for _, s := range m.Settings() {
		if s.Source.IsDefault() && !strings.HasPrefix(s.Key, "test-repo-local.") { // git keys
			t.Errorf("%s is not in %s", s.Key, path)
		}
	}
}

func TestMasterDefaults(t *testing.T) {
	m := DefaultMaster()
	if err := m.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	equal(t, "web port http", m.Webserver.EffectivePort(), 8080)
	m.Webserver.Protocol = "https"
	equal(t, "web port https", m.Webserver.EffectivePort(), 8443)
	equal(t, "Session", m.Session, Session{StageTimeout: 3600 * time.Second, SlaveWaitTimeout: 300 * time.Second,
		HeartbeatInterval: 2 * time.Second, HeartbeatTimeout: 10 * time.Second, ReconnectGrace: 10 * time.Second, StartClusters: true, MaxHold: 4 * time.Hour})
	equal(t, "Server", m.Server, Server{IP: "0.0.0.0", Port: 20000})
	equal(t, "Scheduler", m.Scheduler.Enabled, true)
	equal(t, "public pages", m.Webserver.PublicPages, true)
	equal(t, "Daemon", m.Daemon.LogLevel, LogLevel("INFO"))
	keys := []string{}
	for _, s := range m.Settings() {
		keys = append(keys, s.Key)
		if !s.Source.IsDefault() {
			t.Errorf("%s: source %v, want default", s.Key, s.Source)
		}
	}
	for _, k := range []string{"general.test-repos", "server.connection_passwd", "webserver.api_token", "session.heartbeat_timeout", "daemon.log_level"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Settings lacks %s", k)
		}
	}
}

// A web port unset in the file follows the protocol.
func TestMasterWebPortFollowsProtocol(t *testing.T) {
	m := DefaultMaster()
	if _, err := m.Load(writeConf(t, "[webserver]\nprotocol = HTTPS\n")); err != nil {
		t.Fatal(err)
	}
	equal(t, "protocol", m.Webserver.Protocol, "https")
	equal(t, "EffectivePort", m.Webserver.EffectivePort(), 8443)
	for _, s := range m.Settings() {
		if s.Key == "webserver.port" && s.Value != "8443" {
			t.Errorf("Settings webserver.port = %q, want 8443", s.Value)
		}
	}
}

func TestMasterErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		is   error
		want []string // "FILE" is replaced by the file's path
	}{
		{"bad port", "[server]\nport = 70000\n", ErrInvalid,
			[]string{`FILE:2: [server] port: invalid port "70000": want a number 1-65535`}},
		{"port not a number", "[server]\nport = http\n", ErrInvalid,
			[]string{`FILE:2: [server] port: invalid port "http"`}},
		{"bad web port", "[webserver]\n\nport = 0\n", ErrInvalid,
			[]string{`FILE:3: [webserver] port: invalid port "0"`}},
		{"bad switch", "[scheduler]\nenabled = maybe\n", ErrInvalid,
			[]string{`FILE:2: [scheduler] enabled: invalid switch "maybe": want 0/1, true/false, yes/no or on/off`}},
		{"bad protocol", "[webserver]\nprotocol = ftp\n", ErrInvalid,
			[]string{`FILE:2: [webserver] protocol: invalid value "ftp": want http or https`}},
		{"unknown log level", "[daemon]\nlog_level = VERBOSE\n", ErrInvalid,
			[]string{`FILE:2: [daemon] log_level: unknown log level "VERBOSE"`}},
		{"unknown log format", "[daemon]\nlog_format = xml\n", ErrInvalid,
			[]string{`FILE:2: [daemon] log_format: invalid value "xml": want text or json`}},
		{"bad duration", "[session]\nstage_timeout = soon\n", ErrInvalid,
			[]string{`FILE:2: [session] stage_timeout: invalid duration "soon"`}},
		{"negative duration", "[session]\nstage_timeout = -5\n", ErrInvalid,
			[]string{`FILE:2: [session] stage_timeout: invalid duration "-5": must be positive`}},
		{"heartbeat timeout too short", "[session]\nheartbeat_interval = 5\nheartbeat_timeout = 5s\n", ErrInvalid,
			[]string{`FILE:3: [session] heartbeat_timeout: 5s must exceed heartbeat_interval 5s (FILE:2)`}},
		{"missing test-repo section", "[general]\ntest-repos = local, missing\n[test-repo-local]\ntype = localfs\nlocal_path = /x\n", ErrInvalid,
			[]string{`FILE:2: [general] test-repos: repository "missing" has no [test-repo-missing] section`}},
		{"section names are case-sensitive", "[general]\ntest-repos = local\n[Test-Repo-local]\ntype = localfs\nlocal_path = /x\n", ErrInvalid,
			[]string{`FILE:2: [general] test-repos: repository "local" has no [test-repo-local] section`}},
		{"git without remote_repo", "[general]\ntest-repos = r\n\n[test-repo-r]\ntype = git\nlocal_path = /x\n", ErrMissing,
			[]string{`FILE:4: [test-repo-r] remote_repo: missing: required for a git repository`}},
		{"repo without type and local_path", "[general]\ntest-repos = r\n[test-repo-r]\n", ErrMissing,
			[]string{`FILE:3: [test-repo-r] type: missing: want localfs or git`, `FILE:3: [test-repo-r] local_path: missing`}},
		{"bad poll interval", "[general]\ntest-repos = r\n[test-repo-r]\ntype = git\nlocal_path = /x\nremote_repo = /y\npoll_interval = often\n", ErrInvalid,
			[]string{`FILE:7: [test-repo-r] poll_interval: invalid duration "often"`}},
		{"zero poll interval", "[general]\ntest-repos = r\n[test-repo-r]\ntype = git\nlocal_path = /x\nremote_repo = /y\npoll_interval = 0\n", ErrInvalid,
			[]string{`FILE:7: [test-repo-r] poll_interval: invalid duration "0": must be positive`}},
		{"bad branches", "[general]\ntest-repos = r\n[test-repo-r]\ntype = git\nlocal_path = /x\nremote_repo = /y\nremote_branch = --upload-pack=x\nlocal_branch = a..b\n", ErrInvalid,
			[]string{`FILE:7: [test-repo-r] remote_branch: invalid value "--upload-pack=x": want REMOTE/BRANCH, e.g. origin/master`,
				`FILE:8: [test-repo-r] local_branch: invalid value "a..b": want a branch name`}},
		{"bad repo type", "[general]\ntest-repos = r\n[test-repo-r]\ntype = svn\nlocal_path = /x\n", ErrInvalid,
			[]string{`FILE:4: [test-repo-r] type: invalid value "svn": want localfs or git`}},
		{"certfile without keyfile", "[security]\ncertfile = /c.pem\n", ErrInvalid,
			[]string{`default: [security] keyfile: certfile and keyfile go together`}},
		{"several errors", "[server]\nport = x\n[scheduler]\nenabled = 2\n", ErrInvalid,
			[]string{`FILE:2: [server] port`, `FILE:4: [scheduler] enabled`}},
		{"database not a postgres URL", "[general]\ndatabase = mysql://u:pw@h/db\n", ErrInvalid,
			[]string{`FILE:2: [general] database: unsupported scheme "mysql": want a postgres:// or postgresql:// URL`}},
		{"database not a URL", "[general]\n\ndatabase = postgres://u:pw@h:x:y/%zz\n", ErrInvalid,
			[]string{`FILE:3: [general] database: not a valid URL`}},
		{"database bad port", "[general]\ndatabase = postgres://u:pw@db.example.org:99999/x\n", ErrInvalid,
			[]string{`FILE:2: [general] database: invalid port in the URL`}},
		{"smtp from not an address", "[smtp]\nhost = smtp.example.org\n\nfrom = not an address\n", ErrInvalid,
			[]string{`FILE:4: [smtp] from: invalid value "not an address": want an e-mail address`}},
		{"base_url not a URL", "[webserver]\nbase_url = not a url\n", ErrInvalid,
			[]string{`FILE:2: [webserver] base_url: not an http:// or https:// URL with a host`}},
		{"base_url without a host", "[webserver]\nbase_url = https:///x\n", ErrInvalid,
			[]string{`FILE:2: [webserver] base_url: not an http:// or https:// URL`}},
		{"base_url with a query", "[webserver]\nbase_url = https://xrdtest.example.org/?a=b\n", ErrInvalid,
			[]string{`FILE:2: [webserver] base_url: not an http:// or https:// URL`}},
		{"syntax error", "[server]\nport 20000\n", ErrSyntax,
			[]string{`FILE:2: [server]: syntax error`}},
		{"no section header", "port = 20000\n", ErrNoSectionHeader,
			[]string{`FILE:1: no section header`}},
		{"interpolation", "[server]\nip = %(host)s\n", ErrInterpolation,
			[]string{`FILE:2: [server] ip: %(host)s refers to key "host"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConf(t, tc.text)
			_, _, err := LoadMaster(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %q has no *Error", err)
			}
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = strings.ReplaceAll(w, "FILE", path)
			}
			testutil.ContainsInOrder(t, err.Error(), want)
		})
	}
}

func TestMasterWarnings(t *testing.T) {
	path := writeConf(t, `[general]
test-repos = local,, local
[test-repo-local]
type = localfs
local_path = defs
colour = blue
[test-repo-spare]
type = localfs
local_path = /spare
[server]
port = 20000
port = 20001
[General]
x = 1
[extra]
`)
	m, warns, err := LoadMaster(path)
	if err != nil {
		t.Fatalf("LoadMaster: %v", err)
	}
	want := []string{
		path + ":12: [server] port: key repeated (first at line 11): the later value wins",
		path + ":6: [test-repo-local] colour: unknown key: ignored",
		path + ":13: [General]: unknown section: ignored (section names are case-sensitive: did you mean [general]?)",
		path + ":15: [extra]: unknown section: ignored",
		path + `:2: [general] test-repos: repository "local" listed twice: used once`,
		path + `:7: [test-repo-spare]: repository "spare" is not listed in [general] test-repos: ignored`,
	}
	equal(t, "warnings", warningStrings(warns), want)
	equal(t, "TestRepos", m.General.TestRepos, []string{"local"})
	equal(t, "port", m.Server.Port, 20001)
	// A relative local_path is relative to the configuration's directory,
	// not to the working directory.
	equal(t, "LocalPath", m.Repos[0].LocalPath, filepath.Join(filepath.Dir(path), "defs"))
	if len(m.Repos) != 1 {
		t.Errorf("Repos = %+v, want only the listed one", m.Repos)
	}
}

// [smtp] username with tls = none to another host warns: only a
// challenge-response AUTH is used there, and most servers offer PLAIN and
// LOGIN only. To a local relay PLAIN is used: no warning.
func TestMasterSMTPNoTLSAuth(t *testing.T) {
	for _, tc := range []struct {
		host string
		warn bool
	}{{"smtp.example.org", true}, {"localhost", false}, {"127.0.0.1", false}} {
		path := writeConf(t, "[smtp]\nhost = "+tc.host+"\ntls = none\nusername = xrdtest\npassword = mail-secret\n")
		_, warns, err := LoadMaster(path)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(warningStrings(warns), "\n")
		want := path + ":4: [smtp] username: with tls = none, AUTH to " + tc.host + " uses only a challenge-response mechanism"
		if strings.Contains(got, want) != tc.warn || strings.Contains(got, "mail-secret") {
			t.Errorf("host %s: warnings:\n%s", tc.host, got)
		}
	}
	if _, warns, err := LoadMaster(writeConf(t, "[smtp]\nhost = smtp.example.org\ntls = starttls\nusername = xrdtest\n")); err != nil || len(warns) != 0 {
		t.Errorf("starttls: %v %v", warns, err)
	}
}

func TestMasterDefaultSectionApplies(t *testing.T) {
	// As in Python, [DEFAULT] keys are visible in every section the file
	// has, so a known key there applies to each of them.
	path := writeConf(t, "[DEFAULT]\nport = 21000\nbase = /srv\n[server]\n[webserver]\nwebpage_dir = %(base)s/www\n")
	m, warns, err := LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %q", warningStrings(warns))
	}
	equal(t, "server port", m.Server.Port, 21000)
	equal(t, "web port", m.Webserver.Port, 21000)
	equal(t, "webpage_dir", m.Webserver.WebpageDir, "/srv/www")
	equal(t, "source", m.Source("server.port"), Source{File: path, Line: 2})
}

func TestMasterSet(t *testing.T) {
	m := DefaultMaster()
	if _, err := m.Load("testdata/orig/XrdTestMaster.conf"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, value, source string }{
		{"server.port", "20001", "flag --port"},
		{"webserver.protocol", "http", "env XRDTEST_WEB_PROTOCOL"},
		{"Session.Stage_Timeout", "90s", "flag --stage-timeout"}, // keys are case-insensitive
		{"test-repo-remote.local_path", "rel/clone", "flag --repo"},
	} {
		if err := m.Set(tc.key, tc.value, tc.source); err != nil {
			t.Errorf("Set(%q): %v", tc.key, err)
		}
	}
	equal(t, "port", m.Server.Port, 20001)
	equal(t, "source", m.Source("server.port").String(), "flag --port")
	equal(t, "protocol", m.Webserver.Protocol, "http")
	equal(t, "stage_timeout", m.Session.StageTimeout, 90*time.Second)
	equal(t, "flag path is relative to the working directory", m.Repos[1].LocalPath, abs(t, "rel/clone"))

	// Errors name the key and the flag; the value is left unchanged.
	err := m.Set("server.port", "0", "flag --port")
	equal(t, "error", errString(err), `flag --port: [server] port: invalid port "0": want a number 1-65535`)
	equal(t, "port unchanged", m.Server.Port, 20001)
	err = m.Override("server.nosuch", "1", "flag --x")
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	if err := m.Set("port", "1", "flag --x"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("key without section: %v", err)
	}

	// Changing the list of repositories rebuilds Repos; a new repository
	// can be configured entirely with Set.
	if err := m.Set("general.test-repos", "new,local", "flag --repos"); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), `flag --repos: [general] test-repos: repository "new" has no [test-repo-new] section`) {
		t.Errorf("Validate: %v", err)
	}
	for _, kv := range [][2]string{{"type", "git"}, {"remote_repo", "https://x/r.git"}, {"local_path", "/r"}} {
		if err := m.Set("test-repo-new."+kv[0], kv[1], "flag --new-repo"); err != nil {
			t.Fatal(err)
		}
	}
	equal(t, "repo names", []string{m.Repos[0].Name, m.Repos[1].Name}, []string{"new", "local"})
	if err := m.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// Edits of Repos made by the caller survive later Sets.
	m.Repos[1].ClusterDefsPath = "other"
	if err := m.Set("server.port", "20002", "flag --port"); err != nil {
		t.Fatal(err)
	}
	equal(t, "edited repo", m.Repos[1].ClusterDefsPath, "other")
}

func TestMasterValidateProgrammatic(t *testing.T) {
	m := DefaultMaster()
	m.Server.Port = 0
	m.General.TestRepos = []string{"a"}
	m.Repos = []Repo{{Name: "a", Type: RepoGit, LocalPath: "/a"}}
	m.Daemon.LogLevel = "LOUD"
	err := m.Validate()
	for _, want := range []string{
		"default: [server] port: invalid port 0: want 1-65535",
		"default: [test-repo-a] remote_repo: missing: required for a git repository",
		`default: [daemon] log_level: unknown log level "LOUD"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}

func TestMaster2012Files(t *testing.T) {
	for _, name := range []string{"XrdTestMaster.conf", "XrdTestMaster_lxbrl2705.conf"} {
		t.Run(name, func(t *testing.T) {
			path := "testdata/orig-2012/" + name
			m, warns, err := LoadMaster(path)
			if err != nil {
				t.Fatalf("LoadMaster: %v", err)
			}
			if m.Server.ConnectionPasswd.Reveal() != "tajne123" || m.Server.Port != 20000 {
				t.Errorf("Server = %+v", m.Server)
			}
			if name == "XrdTestMaster_lxbrl2705.conf" {
				// certfile=./certs/master/mastercert.pem
				equal(t, "relative certfile", m.Security.CertFile, abs(t, "testdata/orig-2012/certs/master/mastercert.pem"))
			}
			if len(m.Repos) != 0 {
				t.Errorf("Repos = %+v", m.Repos)
			}
			_, warns = splitWeakSecrets(warns)
			for _, w := range warns {
				if !strings.Contains(w.Msg, "2012") {
					t.Errorf("warning without a hint: %s", w)
				}
			}
			if len(warns) == 0 {
				t.Error("no warning for the 2012 keys")
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
