package holder

import (
	"strings"
	"testing"
)

// TestCovered: a path is covered by a bind over it or over a folder
// above it, not by one over a sibling that shares a prefix.
func TestCovered(t *testing.T) {
	binds := []Bind{{Source: "/x", Target: "/tmp"}, {Source: "/y", Target: "/var/lib/xrootd/"}}
	for path, want := range map[string]bool{
		"/tmp": true, "/tmp/a/b": true, "/tmpx": false, "/var/lib/xrootd": true,
		"/var/lib/xrootd/data": true, "/var/lib": false, "/": false,
	} {
		if got := Covered(path, binds); got != want {
			t.Errorf("Covered(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestReadReady: the holder's one answer line, and what a holder that
// failed or died says.
func TestReadReady(t *testing.T) {
	for _, tt := range []struct{ in, wantErr string }{
		{"ready\n", ""},
		{"error: mount /proc: operation not permitted\n", "mount /proc: operation not permitted"},
		{"", "ended before it was ready"},
		{"something else\n", `said "something else"`},
	} {
		err := ReadReady(strings.NewReader(tt.in))
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ReadReady(%q) = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}
