package libvirt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"libvirt.org/go/libvirtxml"
)

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		uri, socket, err string
	}{
		{"", DefaultSocket, ""},
		{"qemu:///system", DefaultSocket, ""},
		{"qemu+unix:///system", DefaultSocket, ""},
		{"qemu+unix:///system?socket=/tmp/x/libvirt-sock", "/tmp/x/libvirt-sock", ""},
		{"qemu:///system?socket=/tmp//x/../y/sock", "/tmp/y/sock", ""},
		{"qemu:///session", "", "want /system"},
		{"qemu+ssh://root@host/system", "", `transport "ssh"`},
		{"qemu+tcp://host/system", "", `transport "tcp"`},
		{"qemu://host/system", "", "remote host"},
		{"xen:///system", "", `driver "xen"`},
		{"qemu+unix:///system?socket=relative/sock", "", "absolute"},
		{"qemu+unix:///system?socket=/a&socket=/b", "", "one absolute"},
		{"qemu:///system?no_verify=1", "", `parameter "no_verify"`},
		{"qemu:// /system", "", "invalid"},
	} {
		ep, err := ParseURI(tc.uri)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURI(%q) = %+v, %v; want error with %q", tc.uri, ep, err, tc.err)
			}
			continue
		}
		if err != nil || ep.Socket != tc.socket || ep.Remote != "qemu:///system" {
			t.Errorf("ParseURI(%q) = %+v, %v; want socket %s", tc.uri, ep, err, tc.socket)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFileName)
	s, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.update(func(st *State) {
		st.Clusters["c1"] = &ClusterRecord{
			Live:    true,
			Started: started,
			Network: &NetworkRecord{Name: "c1_net", UUID: "u-1", Bridge: "br1"},
			Domains: []string{"c1_h1", "c1_h2"},
			Volumes: []VolumeRecord{{Pool: "p", Name: "c1_h1_data.img", Cluster: "c1"}},
		}
		st.Cached = append(st.Cached, VolumeRecord{Pool: "p", Name: "c1_h1.qcow2", Cluster: "c1"})
	}); err != nil {
		t.Fatal(err)
	}
	again, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	r := again.st.Clusters["c1"]
	if r == nil || !r.Live || !r.Started.Equal(started) || r.Network.UUID != "u-1" || len(r.Domains) != 2 ||
		len(r.Volumes) != 1 || len(again.st.Cached) != 1 || !again.st.isCached("p", "c1_h1.qcow2") ||
		!again.st.recordedVolume("p", "c1_h1_data.img") || !again.st.live("c1") {
		t.Errorf("state did not round trip: %+v", again.st)
	}
	again.st.dropCached("p", "c1_h1.qcow2")
	if again.st.isCached("p", "c1_h1.qcow2") {
		t.Error("dropCached")
	}
	// Atomic writes leave no temporary files; the file is private.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("state dir holds %d entries, want only %s", len(ents), StateFileName)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi.Mode(), err)
	}
	// A state of another version or broken JSON is refused, not overwritten.
	os.WriteFile(path, []byte(`{"version": 99}`), 0o600)
	if _, err := loadState(path); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("version 99: %v", err)
	}
	os.WriteFile(path, []byte(`{`), 0o600)
	if _, err := loadState(path); err == nil {
		t.Error("broken JSON accepted")
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := c.setDefaults(); err == nil {
		t.Error("no StateDir accepted")
	}
	c = Config{StateDir: "rel"}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.URI != DefaultURI || c.Pool != DefaultPool || !filepath.IsAbs(c.StateDir) || c.Mkfs[0] != "mkfs.ext4" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestUndoStack(t *testing.T) {
	var u undoStack
	var order []string
	u.push("a", func() error { order = append(order, "a"); return nil })
	u.push("b", func() error { order = append(order, "b"); return errors.New("boom") })
	u.push("c", func() error { order = append(order, "c"); return nil })
	err := u.run()
	if strings.Join(order, "") != "cba" {
		t.Errorf("undo order %v, want newest first", order)
	}
	if err == nil || !strings.Contains(err.Error(), "undo b: boom") {
		t.Errorf("undo error %v", err)
	}
}

func TestCPUHasVirt(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	for _, tc := range []struct {
		name, text string
		want       bool
	}{
		{"intel", "processor\t: 0\nflags\t\t: fpu vme vmx sse\n", true},
		{"amd", "flags\t\t: fpu svm\n", true},
		{"none", "processor\t: 0\nflags\t\t: fpu vme de pse tsc hypervisor\n", false},
		{"no flags line", "processor\t: 0\n", true},
	} {
		if got := cpuHasVirt(write(tc.name, tc.text)); got != tc.want {
			t.Errorf("%s: cpuHasVirt = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !cpuHasVirt(filepath.Join(dir, "missing")) {
		t.Error("unreadable cpuinfo should trust libvirt")
	}
}

func TestCPUMode(t *testing.T) {
	caps := func(modes ...string) libvirtxml.DomainCaps {
		dc := libvirtxml.DomainCaps{CPU: &libvirtxml.DomainCapsCPU{}}
		for _, m := range modes {
			name, supported, _ := strings.Cut(m, "=")
			dc.CPU.Modes = append(dc.CPU.Modes, libvirtxml.DomainCapsCPUMode{Name: name, Supported: supported})
		}
		return dc
	}
	all := caps("host-passthrough=yes", "host-model=yes", "maximum=yes", "custom=yes")
	for _, tc := range []struct {
		typ  string
		dc   libvirtxml.DomainCaps
		want string
	}{
		{"qemu", all, "maximum"},
		{"kvm", all, "host-passthrough"},
		{"qemu", caps("maximum=no", "custom=yes"), ""},
		{"kvm", caps("host-passthrough=no", "maximum=yes"), ""},
		{"qemu", caps("host-passthrough=yes"), ""},
		{"kvm", libvirtxml.DomainCaps{}, ""},
	} {
		if got := cpuMode(tc.typ, tc.dc); got != tc.want {
			t.Errorf("cpuMode(%s, %+v) = %q, want %q", tc.typ, tc.dc.CPU, got, tc.want)
		}
	}
}

func TestRateBytes(t *testing.T) {
	for rate, want := range map[string]int64{
		"8bit": 1, "1mbit": 125000, "500kbit": 62500, "2mbps": 2000000, "1.5kbps": 1500, "1gbit": 125000000,
	} {
		if got, err := rateBytes(rate); err != nil || got != want {
			t.Errorf("rateBytes(%q) = %d, %v; want %d", rate, got, err, want)
		}
	}
	for _, rate := range []string{"fast", "1bit", "10", "1tbit"} {
		if got, err := rateBytes(rate); err == nil {
			t.Errorf("rateBytes(%q) = %d, want an error", rate, got)
		}
	}
}
