package config

import (
	"strings"

	"github.com/xrdtest/xrdtest/internal/config/ini"
)

// DefaultSlaveFile is where the original framework looked for the slave
// configuration.
const DefaultSlaveFile = "/etc/XrdTest/XrdTestSlave.conf"

// Slave is the slave daemon's configuration (XrdTestSlave.conf).
//
// Original keys:
//
//	[test_master] ip (master.xrd.test), port (20000)
//	[security]    certfile, keyfile
//	[daemon]      pid_file_path, log_file_path, log_level (INFO)
//
// Keys added by xrdtest (see testdata/slave-full.conf):
//
//	[test_master] connection_passwd: enrollment token
//	              ca_fingerprint: SHA-256 pin of the master's CA, or
//	              ca_file: the master's CA certificate (PEM)
//	[slave]       name (empty: the machine's FQDN, found by the caller)
//	              state_dir (/var/lib/xrdtest/slave): enrolled key and certificate
//	              work_dir (/var/lib/xrdtest/slave/work): session work directories
//	              functions_path (/etc/XrdTest/utils/functions.sh): sourced by scripts
//	[retention]   max_age (0: forever), max_sessions (0: all): session work
//	              directories deleted in the background, see Retention
//
// Relative paths are resolved against the directory of the file that sets
// them.
type Slave struct {
	TestMaster TestMaster
	Slave      SlaveSection
	Security   Security
	Daemon     Daemon
	Retention  Retention

	keys keyRecord
}

// SlaveSection is the slave's [slave] section (new).
type SlaveSection struct {
	// Name: name, the slave's identity. Empty: the caller uses the
	// machine's fully qualified host name.
	Name string
	// StateDir: state_dir (default /var/lib/xrdtest/slave), the enrolled
	// key and certificate.
	StateDir string
	// WorkDir: work_dir (default /var/lib/xrdtest/slave/work), one
	// directory per session.
	WorkDir string
	// FunctionsPath: functions_path (default
	// /etc/XrdTest/utils/functions.sh), the helper library scripts source.
	FunctionsPath string
}

// DefaultSlave returns the slave configuration with every default.
func DefaultSlave() *Slave {
	return &Slave{
		TestMaster: TestMaster{IP: "master.xrd.test", Port: 20000},
		Slave: SlaveSection{StateDir: "/var/lib/xrdtest/slave", WorkDir: "/var/lib/xrdtest/slave/work",
			FunctionsPath: "/etc/XrdTest/utils/functions.sh"},
		Daemon: defaultDaemon(),
	}
}

// LoadSlave returns the defaults merged with the file at path, validated;
// see LoadMaster.
func LoadSlave(path string) (*Slave, []Warning, error) {
	return loadValidated(DefaultSlave(), path)
}

// Load merges the INI file at path into s; see Master.Load.
func (s *Slave) Load(path string) ([]Warning, error) { return load(s, path) }

// Merge merges a parsed file into s.
func (s *Slave) Merge(f *ini.File) ([]Warning, error) {
	return s.table().merge(f, knownSections("test_master", "slave", "security", "daemon", "retention"))
}

// Set sets one key ("section.key"); see Master.Set.
func (s *Slave) Set(key, value, source string) error {
	_, err := s.table().set(key, value, source)
	return err
}

// Override is Set.
func (s *Slave) Override(key, value, source string) error { return s.Set(key, value, source) }

// Source returns where the value of key ("section.key") came from.
func (s *Slave) Source(key string) Source { return s.table().source(key) }

// Settings returns every key with its value (secrets redacted) and source.
func (s *Slave) Settings() []Setting { return s.table().settings() }

// Validate checks the whole configuration; see Master.Validate.
func (s *Slave) Validate() error {
	t := s.table()
	errs := t.validateTestMaster(s.TestMaster)
	if s.Slave.Name != "" && strings.ContainsAny(s.Slave.Name, " \t\n/") {
		errs = append(errs, t.invalid("slave", "name", "must not contain spaces or '/'"))
	}
	for _, k := range []struct{ key, v string }{{"state_dir", s.Slave.StateDir}, {"work_dir", s.Slave.WorkDir}} {
		if k.v == "" {
			errs = append(errs, t.invalid("slave", k.key, "empty"))
		}
	}
	errs = append(errs, t.validateDaemon(s.Daemon))
	errs = append(errs, t.validateRetention(s.Retention)...)
	return Join(errs...)
}

func (s *Slave) table() *table {
	return newTable(&s.keys,
		testMasterFields(&s.TestMaster),
		[]field{
			strField("slave", "name", &s.Slave.Name),
			pathField("slave", "state_dir", &s.Slave.StateDir),
			pathField("slave", "work_dir", &s.Slave.WorkDir),
			pathField("slave", "functions_path", &s.Slave.FunctionsPath),
		},
		securityFields(&s.Security),
		daemonFields(&s.Daemon),
		retentionFields(&s.Retention))
}
