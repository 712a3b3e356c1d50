package config

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/xrdtest/xrdtest/internal/config/ini"
)

// DefaultMasterFile is where the original framework looked for the master
// configuration.
const DefaultMasterFile = "/etc/XrdTest/XrdTestMaster.conf"

// RepoSectionPrefix starts the name of each repository's section:
// [test-repo-NAME].
const RepoSectionPrefix = "test-repo-"

// Repository types.
const (
	RepoLocalFS = "localfs"
	RepoGit     = "git"
)

// Master is the master daemon's configuration (XrdTestMaster.conf).
//
// Original keys:
//
//	[general]      test-repos (comma list; each NAME needs a [test-repo-NAME]),
//	               suite_sessions_file
//	[test-repo-NAME] type (localfs|git), local_path (required), cluster_defs_path
//	               (clusters), suite_defs_path (test-suites), remote_repo (git:
//	               required), remote_branch (origin/master), local_branch (master)
//	[server]       ip (0.0.0.0), port (20000), connection_passwd
//	[webserver]    webpage_dir (/usr/share/XrdTest/webpage), protocol (http|https),
//	               port (8080 for http, 8443 for https), suite_run_pass
//	[scheduler]    enabled (1)
//	[security]     certfile, keyfile, ca_certfile, ca_keyfile
//	[daemon]       pid_file_path, log_file_path, log_level (INFO)
//
// Keys added by xrdtest (see testdata/master-full.conf):
//
//	[general]   state_dir (/var/lib/xrdtest/master): CA, database, outputs
//	            database (empty): PostgreSQL URL of the history; empty: SQLite
//	            in state_dir (outputs and logs stay files in state_dir)
//	[test-repo-NAME] poll_interval (30 s): how often a git repository is
//	            fetched (the original's fixed period)
//	[session]   stage_timeout (3600 s): limit of one stage on one slave
//	            slave_wait_timeout (300 s): how long a session waits for its slaves
//	            heartbeat_interval (2 s): how often daemons send a heartbeat
//	            heartbeat_timeout (10 s): silence after which a daemon is disconnected
//	            reconnect_grace (10 s): how long a disconnected slave may take to
//	            come back before its stages are lost
//	            start_clusters (1): start the suites' clusters on the connected
//	            hypervisors; 0: the machines are physical, their slaves connect
//	            by themselves
//	[webserver] api_token: bearer token of the JSON API (empty: none)
//	            api_tokens: more, each named: NAME:TOKEN, ... (logged as
//	            "token NAME" with what is done with it)
//	            public_pages (1): the read-only web pages (and API reads)
//	            are public; 0: they need the login (suite_run_pass) or the
//	            API token too
//	[retention] max_age (0: forever), max_sessions (0: all): finished
//	            sessions deleted in the background, see Retention;
//	            outputs_max_age (0: as long as the session): their stage
//	            outputs and collected logs deleted, results kept
//
// Durations are seconds ("3600", "1.5") or Go durations ("90s", "5m").
// Relative paths (everything named *_path, *_dir, *file, except
// cluster_defs_path and suite_defs_path, which are inside local_path) are
// resolved against the directory of the file that sets them; the original
// used the working directory.
type Master struct {
	General   MasterGeneral
	Repos     []Repo // the [test-repo-NAME] sections in the order of test-repos
	Server    Server
	Webserver Webserver
	Scheduler Scheduler
	SMTP      SMTP
	Session   Session
	Security  MasterSecurity
	Daemon    Daemon
	Retention Retention

	repoDefs map[string]*Repo // every [test-repo-NAME] seen, listed or not
	keys     keyRecord
}

// MasterGeneral is the master's [general] section.
type MasterGeneral struct {
	// TestRepos: test-repos, the repository names in order.
	TestRepos []string
	// SuiteSessionsFile: suite_sessions_file, the original's history file
	// (a Python shelve). Accepted for compatibility; xrdtest keeps its
	// history in the database under StateDir.
	SuiteSessionsFile string
	// StateDir: state_dir (new), the master's CA, database and stage
	// outputs. Default /var/lib/xrdtest/master.
	StateDir string
	// Database: database (new), a postgres:// URL: the history's metadata
	// goes to that PostgreSQL database instead of SQLite in StateDir
	// (outputs and logs stay files in StateDir). Empty: SQLite.
	Database DatabaseURL
}

// Repo is one [test-repo-NAME] section: where cluster and suite
// definitions come from.
type Repo struct {
	// Name is NAME in [test-repo-NAME].
	Name string
	// Type: type, RepoLocalFS or RepoGit (required).
	Type string
	// LocalPath: local_path (required), the repository's directory (for
	// git, where the clone lives).
	LocalPath string
	// ClusterDefsPath: cluster_defs_path, the cluster directory inside
	// LocalPath (default "clusters").
	ClusterDefsPath string
	// SuiteDefsPath: suite_defs_path, the test-suite directory inside
	// LocalPath (default "test-suites").
	SuiteDefsPath string
	// RemoteRepo: remote_repo, any git URL (required for git).
	RemoteRepo string
	// RemoteBranch: remote_branch (default "origin/master").
	RemoteBranch string
	// LocalBranch: local_branch (default "master").
	LocalBranch string
	// PollInterval: poll_interval (new, default 30 s), how often a git
	// repository is fetched; ignored for localfs (changes are watched).
	PollInterval time.Duration
	// Source locates the section header.
	Source Source
}

// Section returns "test-repo-NAME".
func (r Repo) Section() string { return RepoSectionPrefix + r.Name }

// ClusterDir returns the cluster definition directory.
func (r Repo) ClusterDir() string { return underDir(r.LocalPath, r.ClusterDefsPath) }

// SuiteDir returns the test-suite definition directory.
func (r Repo) SuiteDir() string { return underDir(r.LocalPath, r.SuiteDefsPath) }

// underDir joins like Python's os.path.join: an absolute p wins.
func underDir(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func newRepo(name string, src Source) *Repo {
	return &Repo{Name: name, ClusterDefsPath: "clusters", SuiteDefsPath: "test-suites",
		RemoteBranch: "origin/master", LocalBranch: "master", PollInterval: 30 * time.Second, Source: src}
}

// Server is the master's [server] section: the daemon port.
type Server struct {
	// IP: ip, the listening address (default 0.0.0.0); the web server
	// binds to it too.
	IP string
	// Port: port (default 20000).
	Port int
	// ConnectionPasswd: connection_passwd, the token daemons enroll with.
	ConnectionPasswd Secret
}

// Webserver is the master's [webserver] section.
type Webserver struct {
	// WebpageDir: webpage_dir (default /usr/share/XrdTest/webpage), where
	// /showScript looks first (the original served its helper scripts,
	// utils/get_xrd_latest.py and the like, from there); the pages
	// themselves are built into xrdtest.
	WebpageDir string
	// Protocol: protocol, "http" (default) or "https".
	Protocol string
	// Port: port; 0 (unset) means 8080 for http and 8443 for https, see
	// EffectivePort.
	Port int
	// SuiteRunPass: suite_run_pass, the password of the web actions (run,
	// cancel, cluster actions). Empty: the actions are disabled.
	SuiteRunPass Secret
	// APIToken: api_token (new), bearer token of the JSON API. Empty: none.
	APIToken Secret
	// APITokens: api_tokens (new), more bearer tokens of the JSON API, each
	// with its holder's name: NAME:TOKEN, separated by commas or blanks.
	// What is done with one is logged as done by "token NAME". See
	// NamedTokens.
	APITokens Secret
	// BaseURL: base_url (new), how users reach the web pages, for links in
	// alert mails: an http:// or https:// URL with a host. Empty:
	// http(s)://<host name>:<port>.
	BaseURL string
	// PublicPages: public_pages (new, default 1), whether the read-only
	// pages and API reads are open to everyone; the actions always need
	// the password or token.
	PublicPages bool
}

// NamedToken is one of the API tokens of [webserver] api_tokens.
type NamedToken struct {
	Name  string
	Token Secret
}

// tokenName is what a token's holder may be called: it appears in logs
// and in sessions' "triggered by".
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// NamedTokens parses api_tokens. Its errors name the entry by its
// position and name, never quoting a token.
func (w Webserver) NamedTokens() ([]NamedToken, error) {
	var out []NamedToken
	names, tokens := map[string]bool{}, map[string]bool{}
	if t := w.APIToken.Reveal(); t != "" {
		tokens[t] = true
	}
	fields := strings.FieldsFunc(w.APITokens.Reveal(), func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	for i, f := range fields {
		name, tok, ok := strings.Cut(f, ":")
		switch {
		case !ok || tok == "":
			return nil, fmt.Errorf("entry %d is not NAME:TOKEN", i+1)
		case !tokenName.MatchString(name):
			return nil, fmt.Errorf("entry %d: a name is letters, digits and . _ @ - (at most 64)", i+1)
		case names[name]:
			return nil, fmt.Errorf("entry %d: the name %s is given twice", i+1, name)
		case tokens[tok]:
			return nil, fmt.Errorf("entry %d (%s): its token is already another's (or api_token)", i+1, name)
		case len(tok) < 16:
			return nil, fmt.Errorf("entry %d (%s): a token of fewer than 16 characters is too easy to guess", i+1, name)
		}
		names[name], tokens[tok] = true, true
		out = append(out, NamedToken{Name: name, Token: Secret(tok)})
	}
	return out, nil
}

// EffectivePort returns Port, or the protocol's default when unset.
func (w Webserver) EffectivePort() int {
	switch {
	case w.Port != 0:
		return w.Port
	case w.Protocol == "https":
		return 8443
	}
	return 8080
}

// Scheduler is the master's [scheduler] section.
type Scheduler struct {
	// Enabled: enabled (default 1); 0 keeps scheduled suites from running.
	Enabled bool
	// Overlap: overlap (new), what a run due while the same suite still
	// runs does: "queue" (default: one waiting run, never more) or "skip".
	Overlap string
}

// SMTP is the master's [smtp] section (new): where alert mails go.
// Without a host no mail is sent. From must be an e-mail address. A
// username with tls = none to a host other than this machine is warned
// about: the password is then only sent with a challenge-response
// mechanism (see notify.Config).
type SMTP struct {
	Host     string
	Port     int    // 0: the default of the TLS mode (25, 587, 465)
	TLS      string // none, starttls (default) or tls
	Username string
	Password Secret
	From     string
}

// Session is the master's [session] section (new).
type Session struct {
	// StageTimeout: stage_timeout (default 3600 s), the limit of one stage.
	StageTimeout time.Duration
	// SlaveWaitTimeout: slave_wait_timeout (default 300 s), how long a
	// session waits for its slaves to connect.
	SlaveWaitTimeout time.Duration
	// HeartbeatInterval: heartbeat_interval (default 2 s).
	HeartbeatInterval time.Duration
	// StartClusters: start_clusters (default 1), start the suites' clusters
	// on the connected hypervisor daemons; 0: the machines are physical and
	// their slaves connect by themselves.
	StartClusters bool
	// ReconnectGrace: reconnect_grace (default 10 s), how long a slave whose
	// connection dropped may take to come back and carry on with its stages
	// before they are lost.
	ReconnectGrace time.Duration
	// HeartbeatTimeout: heartbeat_timeout (default 10 s), the silence after
	// which a daemon is lost. Must exceed HeartbeatInterval.
	HeartbeatTimeout time.Duration
	// MaxHold: max_hold (default 4h), the longest a failed session may be
	// held with its cluster up (`xrdtest run --hold`, extensions included).
	MaxHold time.Duration
}

// MasterSecurity is the master's [security] section.
type MasterSecurity struct {
	// CertFile, KeyFile: certfile, keyfile, the certificate of the web
	// port with protocol = https (e.g. one of the site's own CA, which
	// browsers trust), read again when the files change. Empty: the
	// master's own certificate, issued by its CA. The daemon port always
	// presents the master's own: the daemons pin its CA.
	CertFile string
	KeyFile  string
	// CACertFile, CAKeyFile: ca_certfile, ca_keyfile, the master's CA,
	// which issues the daemons' certificates. Empty: the one in
	// StateDir/ca, created at the first start.
	CACertFile string
	CAKeyFile  string
}

// DefaultMaster returns the master configuration with every default.
func DefaultMaster() *Master {
	return &Master{
		General:   MasterGeneral{StateDir: "/var/lib/xrdtest/master"},
		Server:    Server{IP: "0.0.0.0", Port: 20000},
		Webserver: Webserver{WebpageDir: "/usr/share/XrdTest/webpage", Protocol: "http", PublicPages: true},
		Scheduler: Scheduler{Enabled: true, Overlap: "queue"},
		SMTP:      SMTP{TLS: "starttls", From: "xrdtest@localhost"},
		Session: Session{StageTimeout: time.Hour, SlaveWaitTimeout: 5 * time.Minute,
			HeartbeatInterval: 2 * time.Second, HeartbeatTimeout: 10 * time.Second, ReconnectGrace: 10 * time.Second, StartClusters: true,
			MaxHold: 4 * time.Hour},
		Daemon: defaultDaemon(),
	}
}

// LoadMaster returns the defaults merged with the file at path, validated:
// the errors of Load and of Validate together, as Errors in file order.
// Only a file that cannot be read or parsed (ini.ReadFile) stops before the
// values are checked.
func LoadMaster(path string) (*Master, []Warning, error) {
	return loadValidated(DefaultMaster(), path)
}

// Load merges the INI file at path into m. It returns the warnings
// (unknown sections and keys, repeated keys, unlisted repositories) and
// every refused value as Errors, in file order; errors.As finds *Error. A
// file that cannot be read or parsed gives ini.ReadFile's error and sets
// nothing.
func (m *Master) Load(path string) ([]Warning, error) { return load(m, path) }

// Merge merges a parsed file into m, as Load.
func (m *Master) Merge(f *ini.File) ([]Warning, error) {
	m.syncReposIn()
	for _, name := range f.Sections() {
		if repo, ok := strings.CutPrefix(name, RepoSectionPrefix); ok && repo != "" && m.repoDefs[repo] == nil {
			m.repoDefs[repo] = newRepo(repo, Source{File: f.Name, Line: f.Section(name).Line})
		}
	}
	warns, err := m.table().merge(f, m.knownSection)
	m.syncReposOut()

	if e, ok := f.Raw("general", "test-repos"); ok {
		seen := map[string]bool{}
		for _, name := range ParseList(e.Value) {
			if seen[name] {
				warns = append(warns, Warning{Source: Source{File: f.Name, Line: e.Line}, Section: "general", Key: "test-repos",
					Msg: fmt.Sprintf("repository %q listed twice: used once", name)})
			}
			seen[name] = true
		}
	}
	for _, name := range f.Sections() {
		if repo, ok := strings.CutPrefix(name, RepoSectionPrefix); ok && repo != "" && !slices.Contains(m.General.TestRepos, repo) {
			warns = append(warns, Warning{Source: Source{File: f.Name, Line: f.Section(name).Line}, Section: name,
				Msg: fmt.Sprintf("repository %q is not listed in [general] test-repos: ignored", repo)})
		}
	}
	// Not an error: a server offering a challenge-response mechanism
	// works; one offering only PLAIN or LOGIN (most) refuses every mail.
	if c := m.SMTP; c.Host != "" && c.Username != "" && c.TLS == "none" && !isLoopback(c.Host) {
		warns = append(warns, Warning{Source: m.Source("smtp.username"), Section: "smtp", Key: "username",
			Msg: fmt.Sprintf("with tls = none, AUTH to %s uses only a challenge-response mechanism (SCRAM, CRAM-MD5, NTLM), "+
				"never PLAIN or LOGIN, which would send the password in clear: a server offering only those refuses every mail; "+
				"set tls = starttls or tls", c.Host)})
	}
	warns = append(warns, m.weakSecretWarnings()...)
	return warns, err
}

// isLoopback is notify.IsLoopback: a mail server on this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// Set sets one key, addressed as "section.key" (e.g. "server.port",
// "test-repo-local.local_path"), with the parsing and checks of the file;
// source names where the value comes from ("flag --port", "env
// XRDTEST_MASTER_PORT") for Source and messages.
func (m *Master) Set(key, value, source string) error {
	m.syncReposIn()
	if section, _, ok := splitKey(key); ok {
		if repo, ok := strings.CutPrefix(section, RepoSectionPrefix); ok && repo != "" && m.repoDefs[repo] == nil {
			m.repoDefs[repo] = newRepo(repo, Source{Origin: source})
		}
	}
	_, err := m.table().set(key, value, source)
	m.syncReposOut()
	return err
}

// Override is Set.
func (m *Master) Override(key, value, source string) error { return m.Set(key, value, source) }

// Source returns where the value of key ("section.key") came from.
func (m *Master) Source(key string) Source { return m.table().source(key) }

// Settings returns every key with its value (secrets redacted) and source,
// in the order of the original file.
func (m *Master) Settings() []Setting {
	m.syncReposIn()
	s := m.table().settings()
	for i := range s {
		if s[i].Key == "webserver.port" {
			s[i].Value = fmt.Sprint(m.Webserver.EffectivePort())
		}
	}
	return s
}

// Validate checks the whole configuration; the errors name section, key
// and where the value came from, as Errors in file order. A key whose
// value Load or Set refused is not checked again: its error was that, so
// Load's errors and Validate's, joined, give each error once.
func (m *Master) Validate() error {
	t := m.table()
	var errs []error
	seen := map[string]bool{}
	for _, name := range m.General.TestRepos {
		if seen[name] {
			continue
		}
		seen[name] = true
		i := slices.IndexFunc(m.Repos, func(r Repo) bool { return r.Name == name })
		if i < 0 {
			errs = append(errs, t.invalid("general", "test-repos",
				fmt.Sprintf("repository %q has no [%s%s] section", name, RepoSectionPrefix, name)))
			continue
		}
		errs = append(errs, m.validateRepo(t, m.Repos[i])...)
	}
	if m.General.StateDir == "" {
		errs = append(errs, t.invalid("general", "state_dir", "empty"))
	}
	errs = append(errs, t.validatePort("server", "port", m.Server.Port))
	if m.Webserver.Protocol != "http" && m.Webserver.Protocol != "https" {
		errs = append(errs, t.invalid("webserver", "protocol", fmt.Sprintf("invalid value %q: want http or https", m.Webserver.Protocol)))
	}
	if m.Webserver.Port != 0 {
		errs = append(errs, t.validatePort("webserver", "port", m.Webserver.Port))
	}
	s := m.Session
	errs = append(errs,
		t.validatePositive("session", "stage_timeout", s.StageTimeout),
		t.validatePositive("session", "slave_wait_timeout", s.SlaveWaitTimeout),
		t.validatePositive("session", "heartbeat_interval", s.HeartbeatInterval),
		t.validatePositive("session", "heartbeat_timeout", s.HeartbeatTimeout),
		t.validatePositive("session", "reconnect_grace", s.ReconnectGrace),
		t.validatePositive("session", "max_hold", s.MaxHold))
	if s.HeartbeatInterval > 0 && s.HeartbeatTimeout > 0 && s.HeartbeatTimeout <= s.HeartbeatInterval && !t.refused["session.heartbeat_interval"] {
		errs = append(errs, t.invalid("session", "heartbeat_timeout",
			fmt.Sprintf("%s must exceed heartbeat_interval %s (%s)", s.HeartbeatTimeout, s.HeartbeatInterval, t.source("session.heartbeat_interval"))))
	}
	if (m.Security.CertFile == "") != (m.Security.KeyFile == "") {
		errs = append(errs, t.invalid("security", "keyfile", "certfile and keyfile go together: set both or neither"))
	}
	if (m.Security.CACertFile == "") != (m.Security.CAKeyFile == "") {
		errs = append(errs, t.invalid("security", "ca_keyfile", "ca_certfile and ca_keyfile go together: set both or neither"))
	}
	if _, err := m.Webserver.NamedTokens(); err != nil {
		errs = append(errs, t.invalid("webserver", "api_tokens", err.Error()))
	}
	// Checked here, not when the first mail fails to go out.
	if u := m.Webserver.BaseURL; u != "" && !validBaseURL(u) {
		// Not quoted: a URL may hold a password.
		errs = append(errs, t.invalid("webserver", "base_url",
			"not an http:// or https:// URL with a host and no query, e.g. https://xrdtest.example.org:8443"))
	}
	if _, err := mail.ParseAddress(m.SMTP.From); m.SMTP.From != "" && err != nil {
		errs = append(errs, t.invalid("smtp", "from", fmt.Sprintf("invalid value %q: want an e-mail address, e.g. xrdtest@example.org", m.SMTP.From)))
	}
	errs = append(errs, t.validateDaemon(m.Daemon))
	errs = append(errs, t.validateRetention(m.Retention)...)
	return Join(errs...)
}

// validBaseURL reports whether u can start the links of alert mails
// (u + "/sessions/ID").
func validBaseURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" && p.Hostname() != "" &&
		p.RawQuery == "" && p.Fragment == "" && !p.ForceQuery
}

func (m *Master) validateRepo(t *table, r Repo) []error {
	sec := r.Section()
	missing := func(key, msg string) error {
		if t.refused[sec+"."+key] { // refused, not missing
			return nil
		}
		return &Error{Source: r.Source, Section: sec, Key: key, Err: ErrMissing, Msg: msg}
	}
	var errs []error
	switch r.Type {
	case RepoLocalFS, RepoGit:
	case "":
		errs = append(errs, missing("type", "missing: want localfs or git"))
	default:
		errs = append(errs, t.invalid(sec, "type", fmt.Sprintf("invalid value %q: want localfs or git", r.Type)))
	}
	if r.LocalPath == "" {
		errs = append(errs, missing("local_path", "missing: the repository's directory is required"))
	}
	if r.Type == RepoGit {
		if r.RemoteRepo == "" {
			errs = append(errs, missing("remote_repo", "missing: required for a git repository"))
		}
		if !gitRefRe.MatchString(r.RemoteBranch) || strings.Contains(r.RemoteBranch, "..") {
			errs = append(errs, t.invalid(sec, "remote_branch", fmt.Sprintf("invalid value %q: want REMOTE/BRANCH, e.g. origin/master", r.RemoteBranch)))
		}
		if !gitRefRe.MatchString(r.LocalBranch) || strings.Contains(r.LocalBranch, "..") {
			errs = append(errs, t.invalid(sec, "local_branch", fmt.Sprintf("invalid value %q: want a branch name, e.g. master", r.LocalBranch)))
		}
		errs = append(errs, t.validatePositive(sec, "poll_interval", r.PollInterval))
	}
	return errs
}

// gitRefRe is a plain branch name: nothing git could take for an option.
var gitRefRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*$`)

func (m *Master) knownSection(s string) bool {
	switch s {
	case "general", "server", "webserver", "scheduler", "smtp", "session", "security", "daemon", "retention":
		return true
	}
	repo, ok := strings.CutPrefix(s, RepoSectionPrefix)
	return ok && repo != ""
}

// syncReposIn makes repoDefs reflect m.Repos, which callers may have
// edited.
func (m *Master) syncReposIn() {
	if m.repoDefs == nil {
		m.repoDefs = map[string]*Repo{}
	}
	for _, r := range m.Repos {
		if d := m.repoDefs[r.Name]; d != nil {
			*d = r
		} else {
			c := r
			m.repoDefs[r.Name] = &c
		}
	}
}

// syncReposOut rebuilds m.Repos from test-repos and repoDefs.
func (m *Master) syncReposOut() {
	m.Repos = m.Repos[:0:0]
	seen := map[string]bool{}
	for _, name := range m.General.TestRepos {
		if d := m.repoDefs[name]; d != nil && !seen[name] {
			m.Repos = append(m.Repos, *d)
		}
		seen[name] = true
	}
}

func (m *Master) table() *table {
	if m.repoDefs == nil {
		m.repoDefs = map[string]*Repo{}
	}
	g := &m.General
	fields := []field{
		{section: "general", key: "test-repos",
			set: func(v string, _ Source) error {
				g.TestRepos = dedupe(ParseList(v))
				return nil
			},
			show: func() string { return strings.Join(g.TestRepos, ",") }},
		pathField("general", "suite_sessions_file", &g.SuiteSessionsFile),
		pathField("general", "state_dir", &g.StateDir),
		databaseField("general", "database", &g.Database),
	}
	// Repositories: listed ones in list order, then the others by name.
	names := slices.Clone(m.General.TestRepos)
	var others []string
	for name := range m.repoDefs {
		if !slices.Contains(names, name) {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	for _, name := range append(names, others...) {
		if r := m.repoDefs[name]; r != nil {
			fields = append(fields, repoFields(r)...)
		}
	}
	w := &m.Webserver
	fields = append(fields,
		strField("server", "ip", &m.Server.IP),
		portField("server", "port", &m.Server.Port),
		secretField("server", "connection_passwd", &m.Server.ConnectionPasswd),
		pathField("webserver", "webpage_dir", &w.WebpageDir),
		choiceField("webserver", "protocol", &w.Protocol, "http", "https"),
		portField("webserver", "port", &w.Port),
		secretField("webserver", "suite_run_pass", &w.SuiteRunPass),
		secretField("webserver", "api_token", &w.APIToken),
		secretField("webserver", "api_tokens", &w.APITokens),
		switchField("scheduler", "enabled", &m.Scheduler.Enabled),
		choiceField("scheduler", "overlap", &m.Scheduler.Overlap, "queue", "skip"),
		strField("smtp", "host", &m.SMTP.Host),
		portField("smtp", "port", &m.SMTP.Port),
		choiceField("smtp", "tls", &m.SMTP.TLS, "none", "starttls", "tls"),
		strField("smtp", "username", &m.SMTP.Username),
		secretField("smtp", "password", &m.SMTP.Password),
		strField("smtp", "from", &m.SMTP.From),
		strField("webserver", "base_url", &m.Webserver.BaseURL),
		switchField("webserver", "public_pages", &m.Webserver.PublicPages),
		durationField("session", "stage_timeout", &m.Session.StageTimeout),
		durationField("session", "slave_wait_timeout", &m.Session.SlaveWaitTimeout),
		durationField("session", "heartbeat_interval", &m.Session.HeartbeatInterval),
		durationField("session", "heartbeat_timeout", &m.Session.HeartbeatTimeout),
		durationField("session", "reconnect_grace", &m.Session.ReconnectGrace),
		durationField("session", "max_hold", &m.Session.MaxHold),
		switchField("session", "start_clusters", &m.Session.StartClusters),
		pathField("security", "certfile", &m.Security.CertFile),
		pathField("security", "keyfile", &m.Security.KeyFile),
		pathField("security", "ca_certfile", &m.Security.CACertFile),
		pathField("security", "ca_keyfile", &m.Security.CAKeyFile),
	)
	return newTable(&m.keys, fields, daemonFields(&m.Daemon), masterRetentionFields(&m.Retention))
}

func repoFields(r *Repo) []field {
	sec := r.Section()
	return []field{
		choiceField(sec, "type", &r.Type, RepoLocalFS, RepoGit),
		pathField(sec, "local_path", &r.LocalPath),
		strField(sec, "cluster_defs_path", &r.ClusterDefsPath),
		strField(sec, "suite_defs_path", &r.SuiteDefsPath),
		strField(sec, "remote_repo", &r.RemoteRepo),
		strField(sec, "remote_branch", &r.RemoteBranch),
		strField(sec, "local_branch", &r.LocalBranch),
		durationField(sec, "poll_interval", &r.PollInterval),
	}
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
