package pyeval

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

// FuzzBlankImports checks that blanking never moves a line.
func FuzzBlankImports(f *testing.F) {
	f.Add("from XrdTest.ClusterUtils import (Cluster,\n  Host)\nx = 1\n")
	f.Add("'''\nimport os\n'''\nfrom XrdTest import \\\n  Host\n")
	f.Fuzz(func(t *testing.T, src string) {
		out, _ := blankImports(src)
		if strings.Count(out, "\n") != strings.Count(src, "\n") {
			t.Fatalf("line count changed:\n%q\n->\n%q", src, out)
		}
	})
}
