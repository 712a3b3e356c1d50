package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/config/ini"
	"github.com/xrdtest/xrdtest/internal/pki"
)

// daemonConfig is what the master, slave and hypervisor configurations
// share: keys set by file, environment or flag.
type daemonConfig interface {
	Merge(f *ini.File) ([]config.Warning, error)
	Set(key, value, source string) error
	Settings() []config.Setting
	Validate() error
}

// setFlags collects repeated --set section.key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// envName is the environment variable that overrides a key: section.key
// -> XRDTEST_SECTION_KEY, any other character becoming '_' (so
// server.connection_passwd is XRDTEST_SERVER_CONNECTION_PASSWD).
func envName(key string) string {
	var b strings.Builder
	b.WriteString("XRDTEST_")
	for _, r := range strings.ToUpper(key) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// loadDaemonConfig applies, in order: defaults, the file (the given one,
// else defaultFile when it exists), XRDTEST_* environment variables, then
// the flags (sets, then the named flags), and validates. Warnings go to
// stderr. The error holds every error found (config.Errors), unless the
// file cannot be read or parsed: that stops at once.
func loadDaemonConfig(cfg daemonConfig, file, defaultFile string, sets []string, named map[string]string, stderr io.Writer) error {
	switch file {
	case "none":
		file = ""
	case "":
		if _, err := os.Stat(defaultFile); err == nil {
			file = defaultFile
		}
	}
	var errs []error
	if file != "" {
		f, err := ini.ReadFile(file)
		if err != nil {
			return err
		}
		warns, err := cfg.Merge(f)
		for _, w := range warns {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		errs = append(errs, err)
	}
	for _, s := range cfg.Settings() {
		name := envName(s.Key)
		if v, ok := os.LookupEnv(name); ok {
			errs = append(errs, cfg.Set(s.Key, v, "env "+name))
		}
	}
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("--set %q: want section.key=value", s))
			continue
		}
		errs = append(errs, cfg.Set(strings.TrimSpace(key), value, "flag --set "+key))
	}
	for key, value := range named {
		if value != "" {
			errs = append(errs, cfg.Set(key, value, "flag"))
		}
	}
	return config.Join(append(errs, cfg.Validate())...)
}

// masterFlag splits a --master HOST:PORT flag into the [test_master] keys.
func masterFlag(addr string, named map[string]string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--master %q: %w", addr, err)
	}
	named["test_master.ip"], named["test_master.port"] = host, port
	return nil
}

// takeToken reads the enrollment token from XRDTEST_TOKEN and removes it
// from the environment: scripts and children inherit it otherwise.
func takeToken() string {
	token := os.Getenv("XRDTEST_TOKEN")
	os.Unsetenv("XRDTEST_TOKEN")
	return token
}

// masterPin is the CA pin a daemon's [test_master] section gives, if any.
func masterPin(tm config.TestMaster) (pin pki.Pin, ok bool, err error) {
	switch {
	case tm.CAFile != "":
		pin, err = pki.PinFile(tm.CAFile)
		if err != nil {
			return pin, false, fmt.Errorf("ca_file: %w", err)
		}
		return pin, true, nil
	case tm.CAFingerprint != "":
		fp, err := pki.ParseFingerprint(tm.CAFingerprint)
		if err != nil {
			return pin, false, fmt.Errorf("ca_fingerprint: %w", err)
		}
		return pki.PinFingerprint(fp), true, nil
	}
	return pin, false, nil
}

// daemonFlags are the flags the slave and the hypervisor share: the
// configuration file, overrides, how to reach and trust the master, the
// daemon's name and state folder.
type daemonFlags struct {
	section                                 string // [slave] or [hypervisor]
	file, master, name, fingerprint, caFile *string
	stateDir, logFormat                     *string
	sets                                    setFlags
}

func addDaemonFlags(fs *flag.FlagSet, section, defaultFile, stateHelp string) *daemonFlags {
	d := &daemonFlags{section: section}
	d.file = fs.String("c", "", "configuration `file` (default "+defaultFile+" when it exists; \"none\": no file)")
	fs.Var(&d.sets, "set", "override a key: `section.key=value` (repeatable); XRDTEST_SECTION_KEY variables work too")
	d.master = fs.String("master", "", "the master's daemon `HOST:PORT` ([test_master] ip and port)")
	d.name = fs.String("name", "", "this "+section+"'s name (["+section+"] name; default: the machine's host name)")
	d.fingerprint = fs.String("ca-fingerprint", "", "SHA-256 `fingerprint` of the master's CA, to enroll ([test_master] ca_fingerprint)")
	d.caFile = fs.String("ca-file", "", "the master's CA certificate `file`, instead of --ca-fingerprint ([test_master] ca_file)")
	d.stateDir = fs.String("state-dir", "", stateHelp+" (["+section+"] state_dir)")
	d.logFormat = fs.String("log-format", "", "text or json ([daemon] log_format)")
	return d
}

// load applies defaults, the file, XRDTEST_* variables, then the flags
// (the shared ones, the token from XRDTEST_TOKEN and extra) to cfg.
func (d *daemonFlags) load(cfg daemonConfig, defaultFile string, extra map[string]string, stderr io.Writer) error {
	named := map[string]string{
		d.section + ".name": *d.name, d.section + ".state_dir": *d.stateDir,
		"test_master.ca_fingerprint": *d.fingerprint, "test_master.ca_file": *d.caFile,
		"test_master.connection_passwd": takeToken(), "daemon.log_format": *d.logFormat,
	}
	for k, v := range extra {
		named[k] = v
	}
	if err := masterFlag(*d.master, named); err != nil {
		return err
	}
	return loadDaemonConfig(cfg, *d.file, defaultFile, d.sets, named, stderr)
}
