package checkreport

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// The reports of the corpus repositories are `xrdtest check`'s golden
// files (cmd/xrdtest/testdata/check); these are the parts.

func TestHelpers(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1000: "1000 B", 2048: "2 KiB", 1536: "1536 B", 1 << 30: "1 GiB", 3 << 40: "3 TiB", 1 << 60: "1024 PiB"} {
		if got := bytesize(n); got != want {
			t.Errorf("bytesize(%d) = %q, want %q", n, got, want)
		}
	}
	if plural(1, "host") != "1 host" || plural(0, "host") != "0 hosts" || plural(2, "case") != "2 cases" {
		t.Error("plural")
	}
	if got := scheduleText(map[string]any{"minute": "*/5", "hour": 3}); got != `dict(hour=3, minute="*/5")` {
		t.Errorf("scheduleText = %s", got)
	}
	if got := scheduleText(nil); got != "dict()" {
		t.Errorf("scheduleText(nil) = %s", got)
	}
	if nextRun(&definition.Suite{}, time.Now()) != nil {
		t.Error("a suite without a schedule has a next run")
	}
}

func TestEmptySet(t *testing.T) {
	set := &definition.Set{
		Failed:      []definition.Failed{{Kind: "suite", Name: "s1", Repo: "r", File: "test-suites/s1"}},
		Diagnostics: definition.Diagnostics{{Severity: definition.Error, Repo: "r", File: "test-suites/s1/suite.py", Line: 3, Message: "bad"}},
	}
	var text bytes.Buffer
	if err := Text(&text, set, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := "Clusters (0)\n\nSuites (0)\n\nErrors (1)\n  r/test-suites/s1/suite.py:3: bad\n\n" +
		"0 clusters, 0 hosts, 0 suites, 0 cases; 0 warnings, 1 error; not loaded: suite s1\n"
	if text.String() != want {
		t.Errorf("Text:\n%s\nwant:\n%s", text.String(), want)
	}
	var doc bytes.Buffer
	if err := JSON(&doc, set, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var v map[string][]any
	if err := json.Unmarshal(doc.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v["clusters"] == nil || v["suites"] == nil || len(v["warnings"]) != 0 || len(v["errors"]) != 1 {
		t.Errorf("JSON: %s", doc.String())
	}
}
