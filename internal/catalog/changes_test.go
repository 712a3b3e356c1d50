package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/testutil"
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

func TestFileChanges(t *testing.T) {
	before := map[string]string{"test-suites/s/a.sh": "1", "test-suites/s/gone.sh": "2", "clusters/c.py": "3", "test-suites/other/x.sh": "4"}
	after := map[string]string{"test-suites/s/a.sh": "9", "test-suites/s/new.sh": "5", "clusters/c.py": "3", "test-suites/other/x.sh": "8",
		"test-suites/sx/y.sh": "6"}
	got := fileChanges(before, after, []string{"test-suites/s", "clusters/c.py"})
	want := []api.FileChange{{Path: "test-suites/s/a.sh", Change: "modified"}, {Path: "test-suites/s/gone.sh", Change: "removed"},
		{Path: "test-suites/s/new.sh", Change: "added"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := fileChanges(before, before, []string{"test-suites/s"}); len(got) != 0 {
		t.Errorf("no change: %+v", got)
	}
}

// TestLocalfsChanges: the catalog keeps the file list of every revision of
// a localfs repository it loads, so what changed in a suite's files
// between two sessions' revisions is known; a revision it never loaded
// says so.
func TestLocalfsChanges(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"clusters/cluster_cl.py":      testutil.ClusterDef("cluster_cl", "10.3.0", "i.img", "1024", "h1.xrd.test"),
		"test-suites/s/test_suite.py": "def getTestSuite():\n    ts = TestSuite('s')\n    ts.clusters = ['cluster_cl']\n    ts.tests = ['c']\n    ts.schedule = dict(hour='3')\n    ts.initialize = '#!/bin/bash\\n'\n    return ts\n",
		"test-suites/s/tc/c/run.sh":   "#!/bin/bash\necho one\n",
		"test-suites/t/test_suite.py": "def getTestSuite():\n    ts = TestSuite('t')\n    ts.clusters = ['cluster_cl']\n    ts.tests = ['c']\n    ts.schedule = dict(hour='3')\n    ts.initialize = '#!/bin/bash\\n'\n    return ts\n",
		"test-suites/t/tc/c/run.sh":   "#!/bin/bash\necho t\n",
	}
	testutil.WriteFiles(t, root, files)
	manifests := filepath.Join(t.TempDir(), "revisions")
	c, err := New(Config{Repos: []definition.Repo{{Name: "defs", Root: root}}, ManifestDir: manifests, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if rep := c.Reload(ctx); len(rep.Errors) > 0 {
		t.Fatalf("definitions: %+v", rep.Errors)
	}
	from := c.Definitions().Revision(c.Definitions().Suite("s"))
	testutil.WriteFiles(t, root, map[string]string{
		"test-suites/s/tc/c/run.sh":  "#!/bin/bash\necho two\n",
		"test-suites/s/tc/c/init.sh": "#!/bin/bash\n",
		"test-suites/t/tc/c/run.sh":  "#!/bin/bash\necho t changed\n", // not s's
	})
	c.Reload(ctx)
	to := c.Definitions().Revision(c.Definitions().Suite("s"))
	if from == to {
		t.Fatalf("the revision did not change: %s", to)
	}
	got, err := c.Changes(ctx, "s", from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.FileChange{{Path: "test-suites/s/tc/c/init.sh", Change: "added"}, {Path: "test-suites/s/tc/c/run.sh", Change: "modified"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Files, want) || got[0].Note != "" {
		t.Errorf("changes %+v, want the files %+v", got, want)
	}
	got, err = c.Changes(ctx, "s", "defs@sha256:000000000000", to)
	if err != nil || len(got) != 1 || got[0].Files != nil || !strings.Contains(got[0].Note, "were not both kept") {
		t.Errorf("changes from an unknown revision: %+v %v", got, err)
	}
	// A reload that changes nothing writes no manifest.
	c.Reload(ctx)
	if entries, _ := os.ReadDir(filepath.Join(manifests, "defs")); len(entries) != 2 {
		t.Errorf("%d manifests, want 2", len(entries))
	}
}

func TestPruneManifests(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		os.WriteFile(p, []byte("{}"), 0o644)
		at := time.Now().Add(time.Duration(i-10) * time.Minute)
		os.Chtimes(p, at, at)
	}
	pruneManifests(dir, 3)
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if !reflect.DeepEqual(left, []string{"r2.json", "r3.json", "r4.json"}) {
		t.Errorf("left %v, want the newest three", left)
	}
}
