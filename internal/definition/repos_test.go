package definition

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{12}$`)

// TestRevisionDigest: without a given revision, a repository's revision
// is a digest of the files read from it: definitions and stage scripts,
// nothing else.
func TestRevisionDigest(t *testing.T) {
	root := writeRepo(t, suiteRepo(suiteBody(), map[string]string{"README": "about"}))
	load := func() *Set {
		t.Helper()
		set := Load(context.Background(), []Repo{{Name: "defs", Root: root}}, Options{})
		mustSuite(t, set)
		return set
	}
	first := load()
	rev := first.Repos[0].Revision
	if !digestRe.MatchString(rev) || first.Repos[0].Name != "defs" {
		t.Fatalf("repos %+v", first.Repos)
	}
	s := first.Suites[0]
	if s.RepoName != "defs" || s.Revision != rev || first.Clusters[0].Revision != rev {
		t.Errorf("suite from %s@%s, cluster at %s; want defs@%s", s.RepoName, s.Revision, first.Clusters[0].Revision, rev)
	}
	if got := first.Revision(s); got != "defs@"+rev {
		t.Errorf("session revision %q", got)
	}
	if again := load().Repos[0].Revision; again != rev {
		t.Errorf("same files, revision %s then %s", rev, again)
	}
	writeFileAt(root, "README", "not a definition")
	writeFileAt(root, "test-suites/ts/tc/unlisted/run.sh", "#!/bin/bash\necho not listed\n")
	if got := load().Repos[0].Revision; got != rev {
		t.Errorf("files that are not read changed the revision: %s -> %s", rev, got)
	}
	for file, content := range map[string]string{
		"test-suites/ts/tc/c1/run.sh":  "#!/bin/bash\necho changed\n",
		"test-suites/ts/suite_init.sh": "#!/bin/bash\necho changed\n",
		"clusters/cluster_t.py":        body("c.addHost(Host('srv.xrd.test', '10.0.0.5'))", "c.addHost(Host('client.xrd.test', '10.0.0.7'))"),
	} {
		writeFileAt(root, file, content)
		got := load().Repos[0].Revision
		if got == rev || !digestRe.MatchString(got) {
			t.Errorf("after an edit of %s: revision %s, was %s", file, got, rev)
		}
		rev = got
	}

	// A given revision (the git commit) is kept; the default name is the
	// folder's.
	set := Load(context.Background(), []Repo{{Root: root, Revision: "0123abcd"}}, Options{})
	if got := set.Revision(mustSuite(t, set)); got != filepath.Base(root)+"@0123abcd" {
		t.Errorf("session revision %q", got)
	}
}

// TestScriptsReadAtLoad: a session runs the scripts as they were loaded,
// whatever happens to the files afterwards (a git pull, an edit).
func TestScriptsReadAtLoad(t *testing.T) {
	root := writeRepo(t, suiteRepo(suiteBody(), nil))
	s := mustSuite(t, Load(context.Background(), []Repo{{Root: root}}, Options{}))
	os.RemoveAll(filepath.Join(root, "test-suites"))
	if s.Initialize.Text != "#!/bin/bash\necho init\n" || s.Tests[0].Run.Text != "#!/bin/bash\necho run c1\n" ||
		s.Tests[0].Finalize.Text != "#!/bin/bash\necho fin c1\n" {
		t.Errorf("scripts %+v %+v", s.Initialize, s.Tests[0])
	}
}

// TestReposTogether: suites use the clusters of other repositories; the
// session revision names every repository it uses, and only those; a
// name used in two repositories is an error naming both files.
func TestReposTogether(t *testing.T) {
	clusters := writeRepo(t, map[string]string{
		"clusters/cluster_t.py": body("c.addHost(Host('srv.xrd.test', '10.0.0.5'))", "c.addHost(Host('client.xrd.test', '10.0.0.6'))"),
		"test-suites/.keep":     "",
	})
	suites := suiteRepo(suiteBody(), nil)
	delete(suites, "clusters/cluster_t.py")
	suitesRoot := writeRepo(t, suites)
	other := writeRepo(t, map[string]string{
		// the same cluster name, on another network
		"clusters/cluster_t.py":        strings.ReplaceAll(body("c.addHost(Host('x.xrd.test', '10.1.0.5'))"), "10.0.0.", "10.1.0."),
		"test-suites/ts/test_suite.py": suiteBody(),
		"test-suites/ts/suite_init.sh": "#!/bin/bash\n",
		"test-suites/ts/tc/c1/run.sh":  "#!/bin/bash\n",
		"test-suites/ts/tc/c2/run.sh":  "#!/bin/bash\n",
	})
	set := Load(context.Background(), []Repo{
		{Name: "clusters", Root: clusters, Revision: "c1"},
		{Name: "suites", Root: suitesRoot, Revision: "s1"},
		{Name: "other", Root: other, Revision: "o1"},
	}, Options{})
	if len(set.Suites) != 1 || len(set.Clusters) != 1 {
		t.Fatalf("suites %d clusters %d:\n%s", len(set.Suites), len(set.Clusters), dump(set.Diagnostics))
	}
	s := set.Suites[0]
	if s.Repo != suitesRoot {
		t.Errorf("suite ts from %s, want the first repository defining it", s.Repo)
	}
	if got := set.Revision(s); got != "suites@s1,clusters@c1" {
		t.Errorf("session revision %q", got)
	}
	if len(set.Repos) != 3 || set.Repos[2].Name != "other" || set.Repos[2].Revision != "o1" {
		t.Errorf("repos %+v", set.Repos)
	}

	var clusterClash, suiteClash bool
	for _, d := range set.Diagnostics.Errors() {
		switch {
		case d.Repo == other && d.File == "clusters/cluster_t.py":
			clusterClash = strings.Contains(d.Message, `cluster name "cluster_t" is already used by cluster "cluster_t" in `+filepath.Join(clusters, "clusters/cluster_t.py"))
		case d.Repo == other && d.File == "test-suites/ts/test_suite.py":
			suiteClash = strings.Contains(d.Message, `test suite name "ts" is already used by `+filepath.Join(suitesRoot, "test-suites/ts/test_suite.py"))
		}
	}
	if !clusterClash || !suiteClash {
		t.Errorf("clashes not reported with both files (cluster %v, suite %v):\n%s", clusterClash, suiteClash, dump(set.Diagnostics))
	}
	if len(set.Failed) != 2 {
		t.Errorf("failed %+v, want the other repository's cluster and suite", set.Failed)
	}
}
