package definition

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"1": 1, "10B": 10, "1K": 1024, "20G": 20 << 30, "3T": 3 << 40, "2P": 2 << 50, "1048576": 1 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "20GB", "20g", "G", "-1", "1.5G", " 1G", "0", "0G", "99999999999999999999", "9000000P"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestNames(t *testing.T) {
	for _, h := range []string{"a", "a.xrd.test", "srv-1.xrd.test", "1a.b", strings.Repeat("a", 63) + ".x"} {
		if !validHostname(h) {
			t.Errorf("%q rejected", h)
		}
	}
	for _, h := range []string{"", "a_b", "-a", "a-", "a..b", "a.", ".a", "a b", "a;b", "$(id)", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "aa"} {
		if validHostname(h) {
			t.Errorf("%q accepted", h)
		}
	}
	for _, m := range []string{"/data", "/var/log/xrd", "/a+b/c_d.e-f"} {
		if !validMountPoint(m) {
			t.Errorf("%q rejected", m)
		}
	}
	for _, m := range []string{"", "/", "data", "/a/../b", "/a//b", "/a/", "/a b", "/a;b", "/$(x)", "/a/."} {
		if validMountPoint(m) {
			t.Errorf("%q accepted", m)
		}
	}
	for _, n := range []string{".", "..", "", "a/b", "a b"} {
		if validName(n) {
			t.Errorf("name %q accepted", n)
		}
	}
}
