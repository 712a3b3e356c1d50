package definition

import (
	"strings"
	"testing"
)

func TestBlankImports(t *testing.T) {
	tests := []struct {
		name, src, want string
		errLines        []int
	}{
		{"one line", "from XrdTest.ClusterUtils import Cluster, Host\nx = 1\n", "\nx = 1\n", nil},
		{"package itself", "from XrdTest import TestUtils\n", "\n", nil},
		{"parenthesised", "from XrdTest.ClusterUtils import (Cluster,\n    Host,\n    Disk)\nx = 1\n", "\n\n\nx = 1\n", nil},
		{"backslash", "from XrdTest.TestUtils import TestSuite, \\\n    TestCase\nx = 1\n", "\n\nx = 1\n", nil},
		{"trailing blanks and CRLF", "from XrdTest.TestUtils import TestSuite   \r\nx = 1\r\n", "\r\nx = 1\r\n", nil},
		{"indented", "if True:\n    from XrdTest.ClusterUtils import Host\n", "if True:\n\n", nil},
		{"other module", "import os\nfrom os import path\nfrom XrdTestX import y\n", "import os\nfrom os import path\nfrom XrdTestX import y\n", []int{1, 2, 3}},
		{"import XrdTest", "import XrdTest.ClusterUtils\n", "import XrdTest.ClusterUtils\n", []int{1}},
		{"inside a docstring", "'''\nimport os\nfrom x import y\n'''\nx = 1\n", "'''\nimport os\nfrom x import y\n'''\nx = 1\n", nil},
		{"inside brackets", "x = [\nimport_me,\n]\n", "x = [\nimport_me,\n]\n", nil},
		{"names that start with import", "imports = 1\nfromage = 2\n", "imports = 1\nfromage = 2\n", nil},
		{"a string with a hash", "s = '#'\nfrom XrdTest import x\n", "s = '#'\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := blankImports(tt.src)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			var lines []int
			for _, e := range errs {
				lines = append(lines, e.line)
				if !strings.Contains(e.msg, "is not allowed") {
					t.Errorf("message %q", e.msg)
				}
			}
			if len(lines) != len(tt.errLines) {
				t.Fatalf("error lines %v, want %v", lines, tt.errLines)
			}
			for i := range lines {
				if lines[i] != tt.errLines[i] {
					t.Errorf("error lines %v, want %v", lines, tt.errLines)
				}
			}
		})
	}
}

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
