package repo

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

func TestChanges(t *testing.T) {
	testutil.HermeticGit(t)
	ctx := context.Background()
	u := testutil.NewUpstream(t, map[string]string{"test-suites/s/tc/c/run.sh": "#!/bin/bash\necho ok\n", "test-suites/other/x.sh": "a\n"})
	first := testutil.Git(t, u.Work, "rev-parse", "HEAD")
	u.Commit("other suite only", map[string]string{"test-suites/other/x.sh": "b\n"})
	breaking := u.Commit("break c", map[string]string{"test-suites/s/tc/c/run.sh": "#!/bin/bash\nexit 1\n"})
	last := u.Commit("other again", map[string]string{"test-suites/other/x.sh": "c\n"})
	g := newGit(u, filepath.Join(t.TempDir(), "checkout"))
	if _, err := g.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to string
		paths    []string
		commits  []string
		diffHas  string
		diffLack string
	}{
		{"the suite's folder", first, last, []string{"test-suites/s"}, []string{"break c"}, "+exit 1", "other"},
		{"everything", first, last, nil, []string{"other again", "break c", "other suite only"}, "+exit 1", ""},
		{"nothing changed there", breaking, last, []string{"test-suites/s"}, nil, "", "exit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := g.Changes(ctx, tc.from, tc.to, tc.paths)
			if err != nil {
				t.Fatal(err)
			}
			var subjects []string
			for _, cm := range c.Commits {
				subjects = append(subjects, cm.Subject)
				if len(cm.Hash) != 40 || cm.Date.IsZero() || cm.Author == "" {
					t.Errorf("commit %+v", cm)
				}
			}
			if strings.Join(subjects, "|") != strings.Join(tc.commits, "|") {
				t.Errorf("commits %q, want %q", subjects, tc.commits)
			}
			if !strings.Contains(c.Diff, tc.diffHas) || (tc.diffLack != "" && strings.Contains(c.Diff, tc.diffLack)) {
				t.Errorf("diff:\n%s", c.Diff)
			}
		})
	}
	for _, bad := range [][2]string{{"--output=/tmp/x", last}, {first, "HEAD"}, {first + ".." + last, last}} {
		if _, err := g.Changes(ctx, bad[0], bad[1], nil); err == nil {
			t.Errorf("Changes(%q, %q): no error", bad[0], bad[1])
		}
	}
}
