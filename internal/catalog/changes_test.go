package catalog

import (
	"maps"
	"testing"
)

func TestParseRevision(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"suites@3e44039a", map[string]string{"suites": "3e44039a"}},
		{"suites@3e44039a,clusters@sha256:0123456789ab", map[string]string{"suites": "3e44039a", "clusters": "sha256:0123456789ab"}},
		{"suites@old,suites@new", map[string]string{"suites": "old"}},
		{"garbage,@x,n@", map[string]string{"n": ""}},
	} {
		if got := ParseRevision(tc.in); !maps.Equal(got, tc.want) {
			t.Errorf("ParseRevision(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
