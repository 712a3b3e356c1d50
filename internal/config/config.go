package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/config/ini"
)

// The places and problems of a configuration are those of its INI files
// (package ini): a Source, an *Error naming it, Errors in file order
// (Join), Warnings.
type (
	Source  = ini.Source
	Error   = ini.Error
	Errors  = ini.Errors
	Warning = ini.Warning
)

// DefaultSource is the source of a value nobody set.
var DefaultSource = ini.DefaultSource

// Join returns errs as Errors in file order, or nil; see ini.Join.
func Join(errs ...error) error { return ini.Join(errs...) }

// Sentinel errors, wrapped by *Error: those of reading the file (see
// package ini), then those of the configuration.
var (
	ErrSyntax          = ini.ErrSyntax
	ErrNoSectionHeader = ini.ErrNoSectionHeader
	ErrInterpolation   = ini.ErrInterpolation
	ErrMissing         = ini.ErrMissing
	// ErrInvalid: a value that does not parse or is out of range.
	ErrInvalid = errors.New("invalid value")
	// ErrUnknownKey: Set was given a key the configuration does not have.
	ErrUnknownKey = errors.New("unknown key")
)

// Setting is one key of a configuration as `xrdtest config check` shows it.
type Setting struct {
	Key    string `json:"key"`   // "section.key"
	Value  string `json:"value"` // secrets redacted
	Source Source `json:"source"`
}

// Secret is a password or token. It prints, marshals and logs as
// "[redacted]" (or "" when empty) in every form; Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself, for the code that must use it.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format prints String for every verb, so that no verb (%x, %q, %#v...)
// shows the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q' || (verb == 'v' && f.Flag('#')):
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
	default:
		_, _ = io.WriteString(f, s.String())
	}
}

// MarshalJSON returns "[redacted]" or "".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalText returns "[redacted]" or "".
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// LogLevel is a Python logging level name as the original [daemon]
// log_level takes it: NOTSET, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL
// (any case; stored upper-case).
type LogLevel string

var logLevels = map[LogLevel]slog.Level{
	// NOTSET on Python's root logger lets every message through (the
	// original's comment calling it "off" was wrong): the lowest level.
	"NOTSET":   slog.LevelDebug - 4,
	"DEBUG":    slog.LevelDebug,
	"INFO":     slog.LevelInfo,
	"WARN":     slog.LevelWarn,
	"WARNING":  slog.LevelWarn,
	"ERROR":    slog.LevelError,
	"CRITICAL": slog.LevelError + 4,
}

// ParseLogLevel accepts a level name in any case.
func ParseLogLevel(s string) (LogLevel, error) {
	l := LogLevel(strings.ToUpper(strings.TrimSpace(s)))
	if _, ok := logLevels[l]; !ok {
		return "", fmt.Errorf("unknown log level %q: want NOTSET, DEBUG, INFO, WARN, WARNING, ERROR or CRITICAL", s)
	}
	return l, nil
}

// Valid reports whether l is a known level name.
func (l LogLevel) Valid() bool { _, ok := logLevels[l]; return ok }

// Slog returns the slog level: NOTSET logs everything (below DEBUG),
// CRITICAL is above ERROR. An unknown name gives INFO.
func (l LogLevel) Slog() slog.Level {
	if lv, ok := logLevels[LogLevel(strings.ToUpper(string(l)))]; ok {
		return lv
	}
	return slog.LevelInfo
}

// Value parsers shared by the configurations. Their errors are messages
// without location; the caller adds section, key and source.

// ParseSwitch accepts 0/1, true/false, yes/no, on/off in any case.
func ParseSwitch(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid switch %q: want 0/1, true/false, yes/no or on/off", s)
}

// ParsePort accepts a TCP port 1-65535.
func ParsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q: want a number 1-65535", s)
	}
	return n, nil
}

// ParseDuration accepts seconds as a number ("3600", "1.5") or a Go
// duration ("90s", "5m", "1h30m"); it must be positive.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		if f > float64(1<<63-1)/float64(time.Second) {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(t); err != nil {
		return 0, fmt.Errorf("invalid duration %q: want seconds (3600) or a duration (90s, 5m, 1h)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid duration %q: must be positive", s)
	}
	return d, nil
}

// ParseList splits a comma-separated list, trimming items and dropping
// empty ones (as the original did for test-repos).
func ParseList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// ParseFingerprint normalises a SHA-256 certificate fingerprint to
// "sha256:" and 64 lower-case hex digits. It accepts that form, bare hex,
// colon-separated hex bytes, and openssl's "sha256 Fingerprint=..." line,
// in any case (the forms internal/pki accepts).
func ParseFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	if i := strings.IndexByte(t, '='); i >= 0 && strings.EqualFold(strings.TrimSpace(t[:i]), "sha256 fingerprint") {
		t = strings.TrimSpace(t[i+1:])
	}
	if len(t) >= 7 && strings.EqualFold(t[:7], "sha256:") {
		t = t[7:]
	}
	if strings.Contains(t, ":") {
		parts := strings.Split(t, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return "", fmt.Errorf("invalid SHA-256 fingerprint %q: want 32 colon-separated hex bytes", s)
			}
		}
		t = strings.Join(parts, "")
	}
	if len(t) != 64 {
		return "", fmt.Errorf("invalid SHA-256 fingerprint %q: want 64 hex digits", s)
	}
	for i := range len(t) {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(t[i])) {
			return "", fmt.Errorf("invalid SHA-256 fingerprint %q: not hexadecimal", s)
		}
	}
	return "sha256:" + strings.ToLower(t), nil
}

// legacyHints explain the sections ("name") and keys ("section.key") of
// the 2012 releases that later ones dropped; they are ignored with these
// warnings instead of "unknown".
var legacyHints = map[string]string{
	"server.clusters_definition_path":    "key of the 2012 master: ignored; list repositories in [general] test-repos, each with a [test-repo-NAME] section",
	"server.cluster_definition_path":     "key of the 2012 master: ignored; list repositories in [general] test-repos, each with a [test-repo-NAME] section",
	"server.testsuits_definition_path":   "key of the 2012 master: ignored; list repositories in [general] test-repos, each with a [test-repo-NAME] section",
	"tests":                              "section of the 2012 master: ignored (the history is kept in the database under [general] state_dir)",
	"virtual_machines.tmp_images_dir":    "key of the 2012 hypervisor: ignored (boot images and their copies live in the libvirt pool [virtual_machines] storage_pool)",
	"virtual_machines.tmp_images_prefix": "key of the 2012 hypervisor: ignored (boot images and their copies live in the libvirt pool [virtual_machines] storage_pool)",
}

// field is one key of a configuration: how to set it and show it.
type field struct {
	section, key string
	secret       bool
	// set parses and stores v; src is where v comes from (relative paths
	// are resolved against a file source's directory).
	set  func(v string, src Source) error
	show func() string
	// ignored, when non-empty, is the warning given when the key is set.
	ignored string
}

func (fd field) name() string { return fd.section + "." + fd.key }

// keyRecord is what a configuration keeps about its keys besides their
// values, by "section.key".
type keyRecord struct {
	sources map[string]Source // where each value set came from
	// refused holds the keys whose last value Load or Set refused: they
	// keep their earlier value, which Validate does not check again (the
	// refusal was the key's error).
	refused map[string]bool
}

// table is the list of fields of a configuration plus the record of their
// values. Each configuration builds it afresh (newTable) because the
// fields point into the configuration.
type table struct {
	fields []field
	keyRecord
}

func newTable(rec *keyRecord, fields ...[]field) *table {
	if rec.sources == nil {
		rec.sources, rec.refused = map[string]Source{}, map[string]bool{}
	}
	t := &table{keyRecord: *rec}
	for _, fs := range fields {
		t.fields = append(t.fields, fs...)
	}
	return t
}

func (t *table) find(key string) (field, bool) {
	for _, fd := range t.fields {
		if fd.name() == key {
			return fd, true
		}
	}
	return field{}, false
}

func (t *table) source(key string) Source {
	if s, ok := t.sources[key]; ok {
		return s
	}
	return DefaultSource
}

// apply sets one field and records its source, or that it was refused.
func (t *table) apply(fd field, value string, src Source) (*Warning, error) {
	if err := fd.set(value, src); err != nil {
		t.refused[fd.name()] = true
		return nil, &Error{Source: src, Section: fd.section, Key: fd.key, Err: ErrInvalid, Msg: err.Error()}
	}
	t.sources[fd.name()] = src
	delete(t.refused, fd.name())
	if fd.ignored != "" {
		return &Warning{Source: src, Section: fd.section, Key: fd.key, Msg: fd.ignored}, nil
	}
	return nil, nil
}

// merge applies the fields found in f: every known key of an existing
// section, including keys it inherits from DEFAULT, in file order. known
// tells which sections the configuration has; other sections and keys
// give warnings. A refused value does not stop it: the error is Errors,
// one per refused value.
func (t *table) merge(f *ini.File, known func(section string) bool) ([]Warning, error) {
	warns := append([]Warning(nil), f.Warnings...)
	var errs []error
	for _, name := range f.Sections() {
		sec := f.Section(name)
		src := Source{File: f.Name, Line: sec.Line}
		if !known(name) {
			msg := "unknown section: ignored"
			if hint, ok := legacyHints[name]; ok {
				msg = hint
			} else if lower := strings.ToLower(name); lower != name && known(lower) {
				msg += fmt.Sprintf(" (section names are case-sensitive: did you mean [%s]?)", lower)
			} else if trimmed := strings.TrimSpace(name); trimmed != name && known(trimmed) {
				msg += fmt.Sprintf(" (spaces inside the brackets count: did you mean [%s]?)", trimmed)
			}
			warns = append(warns, Warning{Source: src, Section: name, Msg: msg})
			continue
		}
		for _, key := range f.Options(name) {
			e, _ := f.Raw(name, key)
			esrc := Source{File: f.Name, Line: e.Line}
			fd, ok := t.find(name + "." + key)
			if !ok {
				if e.Section == name { // inherited DEFAULT keys are variables
					msg := "unknown key: ignored"
					if hint, ok := legacyHints[name+"."+key]; ok {
						msg = hint
					}
					warns = append(warns, Warning{Source: esrc, Section: name, Key: key, Msg: msg})
				}
				continue
			}
			v, err := f.Interpolate(name, e)
			if err != nil {
				if fd.secret { // the message would quote part of the value
					err = &Error{Source: esrc, Section: name, Key: key, Err: ErrInterpolation,
						Msg: `cannot expand "%" in this secret value: write "%%" for a literal "%"`}
				}
				t.refused[fd.name()] = true
				errs = append(errs, err)
				continue
			}
			w, err := t.apply(fd, v, esrc)
			if err != nil {
				errs = append(errs, err)
			}
			if w != nil {
				warns = append(warns, *w)
			}
		}
	}
	return warns, Join(errs...)
}

// set implements the Set method of every configuration.
func (t *table) set(key, value, source string) (*Warning, error) {
	src := Source{Origin: source}
	if source == "" {
		src = Source{Origin: "set"}
	}
	section, k, ok := splitKey(key)
	if !ok {
		return nil, &Error{Source: src, Err: ErrUnknownKey, Msg: fmt.Sprintf("unknown key %q: want section.key", key)}
	}
	fd, ok := t.find(section + "." + k)
	if !ok {
		fd, ok = t.find(strings.ToLower(section) + "." + k)
	}
	if !ok {
		return nil, &Error{Source: src, Section: section, Key: k, Err: ErrUnknownKey, Msg: "unknown key"}
	}
	return t.apply(fd, value, src)
}

// splitKey splits "section.key" at the last dot and lower-cases the key.
func splitKey(s string) (section, key string, ok bool) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], strings.ToLower(s[i+1:]), true
}

func (t *table) settings() []Setting {
	out := make([]Setting, 0, len(t.fields))
	for _, fd := range t.fields {
		out = append(out, Setting{Key: fd.name(), Value: fd.show(), Source: t.source(fd.name())})
	}
	return out
}

// invalid returns an ErrInvalid error located at key's source; nil when
// the key's value was refused: its error was that.
func (t *table) invalid(section, key, msg string) error {
	if t.refused[section+"."+key] {
		return nil
	}
	return &Error{Source: t.source(section + "." + key), Section: section, Key: key, Err: ErrInvalid, Msg: msg}
}

// merger is a configuration an INI file merges into: Master, Hypervisor,
// Slave.
type merger interface {
	Merge(f *ini.File) ([]Warning, error)
	Validate() error
}

// load is the Load of each configuration: the INI file at path merged
// into c.
func load(c merger, path string) ([]Warning, error) {
	f, err := ini.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return c.Merge(f)
}

// loadValidated is LoadMaster, LoadHypervisor and LoadSlave: c, a
// configuration of defaults, with the file at path merged in, validated.
func loadValidated[C merger](c C, path string) (C, []Warning, error) {
	f, err := ini.ReadFile(path)
	if err != nil {
		return c, nil, err
	}
	warns, err := c.Merge(f)
	return c, warns, Join(err, c.Validate())
}

// resolvePath makes a relative path absolute: against the directory of
// the file it comes from, else against the working directory.
func resolvePath(p string, src Source) (string, error) {
	if p == "" || filepath.IsAbs(p) {
		return p, nil
	}
	if src.File != "" {
		dir, err := filepath.Abs(filepath.Dir(src.File))
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, p), nil
	}
	return filepath.Abs(p)
}

// Field constructors.

func strField(section, key string, p *string) field {
	return field{section: section, key: key,
		set:  func(v string, _ Source) error { *p = v; return nil },
		show: func() string { return *p }}
}

func secretField(section, key string, p *Secret) field {
	return field{section: section, key: key, secret: true,
		set:  func(v string, _ Source) error { *p = Secret(v); return nil },
		show: func() string { return p.String() }}
}

func portField(section, key string, p *int) field {
	return field{section: section, key: key,
		set: func(v string, _ Source) error {
			n, err := ParsePort(v)
			if err == nil {
				*p = n
			}
			return err
		},
		show: func() string { return strconv.Itoa(*p) }}
}

func switchField(section, key string, p *bool) field {
	return field{section: section, key: key,
		set: func(v string, _ Source) error {
			b, err := ParseSwitch(v)
			if err == nil {
				*p = b
			}
			return err
		},
		show: func() string {
			if *p {
				return "1"
			}
			return "0"
		}}
}

func durationField(section, key string, p *time.Duration) field {
	return field{section: section, key: key,
		set: func(v string, _ Source) error {
			d, err := ParseDuration(v)
			if err == nil {
				*p = d
			}
			return err
		},
		show: func() string { return p.String() }}
}

func choiceField(section, key string, p *string, choices ...string) field {
	return field{section: section, key: key,
		set: func(v string, _ Source) error {
			for _, c := range choices {
				if strings.EqualFold(v, c) {
					*p = c
					return nil
				}
			}
			return fmt.Errorf("invalid value %q: want %s", v, strings.Join(choices, " or "))
		},
		show: func() string { return *p }}
}

func fingerprintField(section, key string, p *string) field {
	return field{section: section, key: key,
		set: func(v string, _ Source) error {
			if v == "" {
				*p = ""
				return nil
			}
			fp, err := ParseFingerprint(v)
			if err == nil {
				*p = fp
			}
			return err
		},
		show: func() string { return *p }}
}

// Daemon is the [daemon] section every daemon has.
type Daemon struct {
	// PidFilePath: pid_file_path, the PID file the daemon writes at start
	// (refusing to start while another live process holds it) and
	// removes at exit. Empty: none (systemd needs none).
	PidFilePath string
	// LogFilePath: log_file_path, the file the daemon logs to (appending;
	// reopened on SIGHUP, for logrotate). Empty: standard error (the
	// journal under systemd).
	LogFilePath string
	// LogLevel: log_level, default INFO.
	LogLevel LogLevel
	// LogFormat: log_format (new), text (default; key=value lines) or
	// json (one object per line).
	LogFormat string
}

func defaultDaemon() Daemon { return Daemon{LogLevel: "INFO", LogFormat: "text"} }

func daemonFields(d *Daemon) []field {
	return []field{
		pathField("daemon", "pid_file_path", &d.PidFilePath),
		pathField("daemon", "log_file_path", &d.LogFilePath),
		{section: "daemon", key: "log_level",
			set: func(v string, _ Source) error {
				l, err := ParseLogLevel(v)
				if err == nil {
					d.LogLevel = l
				}
				return err
			},
			show: func() string { return string(d.LogLevel) }},
		choiceField("daemon", "log_format", &d.LogFormat, "text", "json"),
	}
}

func (t *table) validateDaemon(d Daemon) error {
	if !d.LogLevel.Valid() {
		return t.invalid("daemon", "log_level", fmt.Sprintf("unknown log level %q", string(d.LogLevel)))
	}
	if d.LogFormat != "text" && d.LogFormat != "json" {
		return t.invalid("daemon", "log_format", fmt.Sprintf("invalid value %q: want text or json", d.LogFormat))
	}
	return nil
}

func (t *table) validatePort(section, key string, port int) error {
	if port < 1 || port > 65535 {
		return t.invalid(section, key, fmt.Sprintf("invalid port %d: want 1-65535", port))
	}
	return nil
}

func (t *table) validatePositive(section, key string, d time.Duration) error {
	if d <= 0 {
		return t.invalid(section, key, fmt.Sprintf("invalid duration %s: must be positive", d))
	}
	return nil
}

// TestMaster is the [test_master] section of the hypervisor and slave
// configurations: how to reach and trust the master.
type TestMaster struct {
	// IP: ip, the master's host name or address.
	IP string
	// Port: port, the master's daemon port (default 20000).
	Port int
	// ConnectionPasswd: connection_passwd, the enrollment token (the
	// original's shared password; the master's [server] connection_passwd).
	// Needed only until the daemon holds a certificate.
	ConnectionPasswd Secret
	// CAFingerprint: ca_fingerprint, the SHA-256 pin of the master's CA
	// certificate, normalised to "sha256:<64 hex digits>".
	CAFingerprint string
	// CAFile: ca_file, a PEM file holding the master's CA certificate, an
	// alternative to CAFingerprint.
	CAFile string
}

func testMasterFields(m *TestMaster) []field {
	return []field{
		strField("test_master", "ip", &m.IP),
		portField("test_master", "port", &m.Port),
		secretField("test_master", "connection_passwd", &m.ConnectionPasswd),
		fingerprintField("test_master", "ca_fingerprint", &m.CAFingerprint),
		pathField("test_master", "ca_file", &m.CAFile),
	}
}

func (t *table) validateTestMaster(m TestMaster) []error {
	var errs []error
	if strings.TrimSpace(m.IP) == "" {
		errs = append(errs, t.invalid("test_master", "ip", "empty: want the master's host name or address"))
	}
	errs = append(errs, t.validatePort("test_master", "port", m.Port))
	if m.CAFingerprint != "" && m.CAFile != "" {
		errs = append(errs, t.invalid("test_master", "ca_file",
			fmt.Sprintf("set only one of ca_fingerprint (%s) and ca_file (%s)", t.source("test_master.ca_fingerprint"), t.source("test_master.ca_file"))))
	}
	if m.CAFingerprint != "" {
		if _, err := ParseFingerprint(m.CAFingerprint); err != nil {
			errs = append(errs, t.invalid("test_master", "ca_fingerprint", err.Error()))
		}
	}
	return errs
}

// pathField is a string field whose relative value is resolved against
// the configuration file's directory.
func pathField(section, key string, p *string) field {
	return field{section: section, key: key,
		set: func(v string, src Source) error {
			abs, err := resolvePath(v, src)
			if err == nil {
				*p = abs
			}
			return err
		},
		show: func() string { return *p }}
}

// Security is the [security] certfile and keyfile of the hypervisor and
// slave. They are accepted and ignored, with a warning: a daemon's
// certificate is issued by the master's CA when it enrolls with its
// one-time token, and kept in its state directory.
type Security struct {
	CertFile string
	KeyFile  string
}

// securityIgnored is the warning of the daemons' [security] keys.
const securityIgnored = "ignored: the daemon's certificate is issued by the master's CA when it enrolls, and kept in its state_dir"

func securityFields(s *Security) []field {
	cert, key := pathField("security", "certfile", &s.CertFile), pathField("security", "keyfile", &s.KeyFile)
	cert.ignored, key.ignored = securityIgnored, securityIgnored
	return []field{cert, key}
}

// known returns a section predicate for a fixed set of names.
func knownSections(names ...string) func(string) bool {
	return func(s string) bool {
		for _, n := range names {
			if n == s {
				return true
			}
		}
		return false
	}
}
