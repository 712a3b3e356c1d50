package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

func TestSlaveOriginal(t *testing.T) {
	const path = "testdata/orig/XrdTestSlave.conf" // no final newline, as shipped
	s, warns, err := LoadSlave(path)
	if err != nil {
		t.Fatalf("LoadSlave: %v", err)
	}
	equal(t, "warnings", warningStrings(warns), []string{
		path + ":15: [security] certfile: " + securityIgnored,
		path + ":16: [security] keyfile: " + securityIgnored,
	})
	equal(t, "TestMaster", s.TestMaster, TestMaster{IP: "master.xrd.test", Port: 20000})
	equal(t, "Security", s.Security, Security{CertFile: "/etc/XrdTest/certs/slavecert.pem", KeyFile: "/etc/XrdTest/certs/slavekey.pem"})
	equal(t, "Daemon", s.Daemon, Daemon{PidFilePath: "/var/run/XrdTest/XrdTestSlave.pid",
		LogFilePath: "/var/log/XrdTest/XrdTestSlave.log", LogLevel: "DEBUG", LogFormat: "text"})
	equal(t, "Slave", s.Slave, DefaultSlave().Slave)
	equal(t, "source", s.Source("daemon.log_level").String(), path+":29")
}

func TestSlaveFull(t *testing.T) {
	const path = "testdata/slave-full.conf"
	s, warns, err := LoadSlave(path)
	if err != nil {
		t.Fatalf("LoadSlave: %v", err)
	}
	equal(t, "warnings", warningStrings(warns), []string{
		path + ":29: [security] certfile: " + securityIgnored,
		path + ":30: [security] keyfile: " + securityIgnored,
	})
	equal(t, "TestMaster", s.TestMaster, TestMaster{IP: "master.xrd.test", Port: 20000, ConnectionPasswd: "enroll-me",
		CAFingerprint: "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"})
	equal(t, "Slave", s.Slave, SlaveSection{Name: "slave1.xrd.test", StateDir: "/var/lib/xrdtest/slave",
		WorkDir: "/var/lib/xrdtest/slave/work", FunctionsPath: "/etc/XrdTest/utils/functions.sh"})
	equal(t, "LogLevel", s.Daemon.LogLevel, LogLevel("DEBUG"))
	equal(t, "LogFormat", s.Daemon.LogFormat, "json")
	for _, st := range s.Settings() {
		if st.Source.IsDefault() && st.Key != "test_master.ca_file" {
			t.Errorf("%s is not in %s", st.Key, path)
		}
	}
}

func TestSlaveDefaults(t *testing.T) {
	s := DefaultSlave()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	equal(t, "Slave", s.Slave, SlaveSection{StateDir: "/var/lib/xrdtest/slave", WorkDir: "/var/lib/xrdtest/slave/work",
		FunctionsPath: "/etc/XrdTest/utils/functions.sh"})
	equal(t, "TestMaster", s.TestMaster, TestMaster{IP: "master.xrd.test", Port: 20000})
}

func TestSlaveErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       string
	}{
		{"bad port", "[test_master]\nport = -1\n", `FILE:2: [test_master] port: invalid port "-1"`},
		{"bad fingerprint", "[test_master]\nca_fingerprint = abc\n", `FILE:2: [test_master] ca_fingerprint: invalid SHA-256 fingerprint "abc"`},
		{"fingerprint and file", "[test_master]\nca_fingerprint = " + strings.Repeat("ab:", 31) + "ab\nca_file = /ca.pem\n",
			`FILE:3: [test_master] ca_file: set only one of ca_fingerprint (FILE:2) and ca_file (FILE:3)`},
		{"empty master", "[test_master]\nip =\n", `FILE:2: [test_master] ip: empty`},
		{"bad name", "[slave]\nname = a b\n", `FILE:2: [slave] name: must not contain spaces or '/'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConf(t, tc.text)
			_, _, err := LoadSlave(path)
			if want := strings.ReplaceAll(tc.want, "FILE", path); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("LoadSlave: %v, want %q", err, want)
			}
		})
	}
}

func TestSlaveSetAndWarnings(t *testing.T) {
	path := writeConf(t, "[test_master]\nip = m\nca_file = ca.pem\nretry = 5\n[virtual_machines]\n[slave]\nwork_dir = work\n")
	s := DefaultSlave()
	warns, err := s.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "warnings", warningStrings(warns), []string{
		path + ":4: [test_master] retry: unknown key: ignored",
		path + ":5: [virtual_machines]: unknown section: ignored",
	})
	equal(t, "ca_file is relative to the configuration", s.TestMaster.CAFile, filepath.Join(filepath.Dir(path), "ca.pem"))
	equal(t, "work_dir is relative to the configuration", s.Slave.WorkDir, filepath.Join(filepath.Dir(path), "work"))
	if err := s.Set("slave.name", "vm1.xrd.test", "flag --name"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("test_master.connection_passwd", "tok", "env XRDTEST_TOKEN"); err != nil {
		t.Fatal(err)
	}
	equal(t, "name", s.Slave.Name, "vm1.xrd.test")
	equal(t, "token", s.TestMaster.ConnectionPasswd.Reveal(), "tok")
	equal(t, "token source", s.Source("test_master.connection_passwd").String(), "env XRDTEST_TOKEN")
}

func TestHypervisorOriginal(t *testing.T) {
	const path = "testdata/orig/XrdTestHypervisor.conf"
	h, warns, err := LoadHypervisor(path)
	if err != nil {
		t.Fatalf("LoadHypervisor: %v", err)
	}
	equal(t, "warnings", warningStrings(warns), []string{
		path + ":17: [virtual_machines] emulator_path: ignored: libvirt chooses the emulator (KVM, or TCG where KVM is missing or [libvirt] force_tcg = 1)",
		path + ":28: [security] certfile: " + securityIgnored,
		path + ":29: [security] keyfile: " + securityIgnored,
	})
	equal(t, "TestMaster", h.TestMaster, TestMaster{IP: "somehost.somedomain.com", Port: 20000, ConnectionPasswd: "some_passwd"})
	equal(t, "VirtualMachines", h.VirtualMachines, VirtualMachines{EmulatorPath: "/usr/libexec/qemu-kvm", StoragePool: "XrdTest"})
	equal(t, "Security", h.Security, Security{CertFile: "/etc/XrdTest/certs/hypervisorcert.pem", KeyFile: "/etc/XrdTest/certs/hypervisorkey.pem"})
	equal(t, "Daemon", h.Daemon, Daemon{PidFilePath: "/var/run/XrdTest/XrdTestHypervisor.pid",
		LogFilePath: "/var/log/XrdTest/XrdTestHypervisor.log", LogLevel: "INFO", LogFormat: "text"})
	equal(t, "Libvirt", h.Libvirt, Libvirt{URI: "qemu:///system"})
	equal(t, "Hypervisor", h.Hypervisor, HypervisorSection{StateDir: "/var/lib/xrdtest/hypervisor", Backend: "libvirt"})
}

func TestHypervisorFull(t *testing.T) {
	const path = "testdata/hypervisor-full.conf"
	h, warns, err := LoadHypervisor(path)
	if err != nil {
		t.Fatalf("LoadHypervisor: %v", err)
	}
	if len(warns) != 3 || warns[0].Key != "emulator_path" || warns[1].Key != "certfile" || warns[2].Key != "keyfile" {
		t.Errorf("warnings: %q, want the ignored emulator_path, certfile and keyfile", warningStrings(warns))
	}
	equal(t, "TestMaster", h.TestMaster, TestMaster{IP: "master.example.org", Port: 20000, ConnectionPasswd: "enroll-me",
		CAFile: abs(t, "testdata/certs/master-ca.pem")})
	equal(t, "Hypervisor", h.Hypervisor, HypervisorSection{Name: "hv1.example.org", StateDir: "/var/lib/xrdtest/hypervisor", Backend: "libvirt"})
	equal(t, "Libvirt", h.Libvirt, Libvirt{URI: "qemu:///system", ForceTCG: true})
	equal(t, "LogLevel", h.Daemon.LogLevel, LogLevel("WARNING"))
	for _, st := range h.Settings() {
		if st.Source.IsDefault() && st.Key != "test_master.ca_fingerprint" {
			t.Errorf("%s is not in %s", st.Key, path)
		}
	}
}

func TestHypervisorStoragePool(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       string // warning, "" for none
		line       int
	}{
		{"missing section", "[test_master]\nip = m\n", "FILE: [virtual_machines] storage_pool: not set: using the libvirt storage pool \"default\"", 0},
		{"missing key", "[test_master]\nip = m\n[virtual_machines]\n", "FILE:3: [virtual_machines] storage_pool: not set", 3},
		{"empty", "[test_master]\nip = m\n[virtual_machines]\nstorage_pool =\n", "FILE:3: [virtual_machines] storage_pool: not set", 3},
		{"set", "[test_master]\nip = m\n[virtual_machines]\nstorage_pool = p\n", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConf(t, tc.text)
			h, warns, err := LoadHypervisor(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(warns) != 0 || h.VirtualMachines.StoragePool != "p" {
					t.Errorf("pool %q, warnings %q", h.VirtualMachines.StoragePool, warningStrings(warns))
				}
				return
			}
			equal(t, "pool", h.VirtualMachines.StoragePool, DefaultStoragePool)
			if want := strings.ReplaceAll(tc.want, "FILE", path); len(warns) != 1 || !strings.HasPrefix(warns[0].String(), want) {
				t.Errorf("warnings %q, want %q", warningStrings(warns), want)
			}
		})
	}
}

func TestHypervisorErrors(t *testing.T) {
	path := writeConf(t, "[test_master]\nip = m\nport = 0\n[libvirt]\nforce_tcg = sometimes\nuri =\n")
	_, _, err := LoadHypervisor(path)
	testutil.ContainsInOrder(t, errString(err), []string{
		path + `:3: [test_master] port: invalid port "0"`,
		path + `:5: [libvirt] force_tcg: invalid switch "sometimes"`,
	})
	// Without a file, the master's address is missing.
	if err := DefaultHypervisor().Validate(); err == nil || !strings.Contains(err.Error(), "default: [test_master] ip: empty") {
		t.Errorf("Validate of the defaults: %v", err)
	}
	h := DefaultHypervisor()
	if err := h.Set("libvirt.uri", "", "flag --libvirt-uri"); err != nil {
		t.Fatal(err)
	}
	if err := h.Set("test_master.ip", "m", "flag --master"); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err == nil || err.Error() != "flag --libvirt-uri: [libvirt] uri: empty" {
		t.Errorf("Validate: %v", err)
	}
}

func TestOriginal2012DaemonFiles(t *testing.T) {
	for _, name := range []string{"XrdTestHypervisor.conf", "XrdTestHypervisor_lxbrl2705.conf"} {
		h, warns, err := LoadHypervisor("testdata/orig-2012/" + name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		equal(t, name+" pool", h.VirtualMachines.StoragePool, DefaultStoragePool)
		if len(warns) < 2 {
			t.Errorf("%s: warnings %q, want emulator_path and storage_pool", name, warningStrings(warns))
		}
	}
	s, _, err := LoadSlave("testdata/orig-2012/XrdTestSlave.conf")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "2012 slave token", s.TestMaster.ConnectionPasswd.Reveal(), "tajne123")
}

func TestParseValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		ok   bool
	}{
		{"1", true, true}, {"0", false, true}, {"True", true, true}, {"false", false, true},
		{"YES", true, true}, {"no", false, true}, {"On", true, true}, {"off", false, true},
		{"2", false, false}, {"", false, false}, {"y", false, false},
	} {
		got, err := ParseSwitch(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSwitch(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3600", time.Hour, true}, {"1.5", 1500 * time.Millisecond, true}, {"90s", 90 * time.Second, true},
		{"5m", 5 * time.Minute, true}, {"1h30m", 90 * time.Minute, true},
		{"0", 0, false}, {"-1", 0, false}, {"-5s", 0, false}, {"5 minutes", 0, false}, {"", 0, false}, {"1e300", 0, false},
	} {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want int
	}{{"1", 1}, {"65535", 65535}, {"020000", 20000}, {"0", 0}, {"65536", 0}, {"-1", 0}, {"80a", 0}} {
		got, err := ParsePort(tc.in)
		if got != tc.want || (err == nil) != (tc.want != 0) {
			t.Errorf("ParsePort(%q) = %v, %v", tc.in, got, err)
		}
	}
	equal(t, "ParseList", ParseList(" a , b,,c ,"), []string{"a", "b", "c"})
	for in, want := range map[string]string{
		"sha256:" + strings.Repeat("AB", 32):                           "sha256:" + strings.Repeat("ab", 32),
		strings.Repeat("0f", 32):                                       "sha256:" + strings.Repeat("0f", 32),
		"sha256 Fingerprint=" + strings.Repeat("0F:", 31) + "0F":       "sha256:" + strings.Repeat("0f", 32),
		"SHA256:" + strings.Repeat("12:", 31) + "12":                   "sha256:" + strings.Repeat("12", 32),
		strings.Repeat("zz", 32):                                       "",
		strings.Repeat("ab", 31):                                       "",
		strings.Repeat("ab:", 30) + "ab":                               "",
		"sha1:" + strings.Repeat("ab", 32):                             "",
		"sha256:" + strings.Repeat("a", 63) + "\u00e9":                 "",
		"sha256:" + strings.Repeat("ab", 16) + strings.Repeat(" ", 32): "",
	} {
		got, err := ParseFingerprint(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParseFingerprint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLogLevels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"NOTSET", "DEBUG-4"}, {"debug", "DEBUG"}, {"INFO ", "INFO"}, {"Warn", "WARN"}, {"WARNING", "WARN"},
		{"ERROR", "ERROR"}, {"CRITICAL", "ERROR+4"},
	} {
		l, err := ParseLogLevel(tc.in)
		if err != nil {
			t.Errorf("ParseLogLevel(%q): %v", tc.in, err)
			continue
		}
		if got := l.Slog().String(); got != tc.want {
			t.Errorf("%q.Slog() = %s, want %s", tc.in, got, tc.want)
		}
	}
	if _, err := ParseLogLevel("TRACE"); err == nil {
		t.Error("TRACE accepted")
	}
	if LogLevel("bogus").Slog().String() != "INFO" {
		t.Error("an unknown level should log at INFO")
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Source: Source{File: "a.conf", Line: 3}, Section: "s", Key: "k", Err: ErrInvalid, Msg: "bad"}, "a.conf:3: [s] k: bad"},
		{&Error{Source: Source{File: "a.conf", Line: 3}, Section: "s", Err: ErrSyntax, Msg: "bad"}, "a.conf:3: [s]: bad"},
		{&Error{Source: Source{File: "a.conf"}, Err: ErrMissing}, "a.conf: missing setting"},
		{&Error{Source: Source{Origin: "flag --x"}, Section: "s", Key: "k", Msg: "bad"}, "flag --x: [s] k: bad"},
		{&Error{Section: "s", Key: "k", Msg: "bad"}, "default: [s] k: bad"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if tc.err.Err != nil && !errors.Is(tc.err, tc.err.Err) {
			t.Errorf("%q does not unwrap to its sentinel", tc.err)
		}
	}
}
