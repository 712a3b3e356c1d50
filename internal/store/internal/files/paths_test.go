package files

import (
	"strings"
	"testing"
)

func TestEscapeComponent(t *testing.T) {
	for in, want := range map[string]string{
		"a.xrd.test":        "a.xrd.test",
		"..":                "%2E.",
		".":                 "%2E",
		"../../x":           "%2E.%2F..%2Fx",
		"/../../etc/passwd": "%2F..%2F..%2Fetc%2Fpasswd",
		"A":                 "%41",
		"a%2Fb":             "a%252%46b",
		"~":                 "%7E",
		"é":                 "%C3%A9",
	} {
		if got := escapeComponent(in); got != want {
			t.Errorf("escapeComponent(%q) = %q, want %q", in, got, want)
		}
	}
	long1, long2 := strings.Repeat("/", 500)+"1", strings.Repeat("/", 500)+"2"
	e1, e2 := escapeComponent(long1), escapeComponent(long2)
	if e1 == e2 || len(e1) > maxComponent || len(e2) > maxComponent || !strings.Contains(e1, "~") {
		t.Errorf("long names: %q, %q", e1, e2)
	}
}
