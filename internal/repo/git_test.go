package repo

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

func newGit(u *testutil.Upstream, dir string) *Git {
	return &Git{URL: u.Bare, RemoteBranch: "origin/master", LocalBranch: "master", Dir: dir, Timeout: 30 * time.Second}
}

// syncedGit is a checkout, in a new folder dir, of a new upstream u
// holding a.py ("a"), under testutil.HermeticGit; first is its first
// Sync.
func syncedGit(t *testing.T) (u *testutil.Upstream, dir string, g *Git, first Result) {
	t.Helper()
	testutil.HermeticGit(t)
	u = testutil.NewUpstream(t, map[string]string{"a.py": "a"})
	dir = filepath.Join(t.TempDir(), "c")
	g = newGit(u, dir)
	first, err := g.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u, dir, g, first
}

func readT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSyncClonesThenFollows(t *testing.T) {
	testutil.HermeticGit(t)
	ctx := context.Background()
	u := testutil.NewUpstream(t, map[string]string{"clusters/cluster_a.py": "one"})
	first := testutil.Git(t, u.Work, "rev-parse", "HEAD")
	dir := filepath.Join(t.TempDir(), "sub", "checkout")
	g := newGit(u, dir)

	res, err := g.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != first || !res.Changed || len(res.Warnings) != 0 {
		t.Errorf("clone: %+v, want revision %s, changed", res, first)
	}
	if got := readT(t, filepath.Join(dir, "clusters/cluster_a.py")); got != "one" {
		t.Errorf("checkout has %q", got)
	}
	if b := testutil.Git(t, dir, "symbolic-ref", "--short", "HEAD"); b != "master" {
		t.Errorf("branch %q, want master", b)
	}

	res, err = g.Sync(ctx)
	if err != nil || res.Changed || res.Revision != first {
		t.Errorf("nothing new: %+v, %v", res, err)
	}

	second := u.Commit("second", map[string]string{"clusters/cluster_a.py": "two", "clusters/cluster_b.py": "new"})
	res, err = g.Sync(ctx)
	if err != nil || !res.Changed || res.Revision != second || len(res.Warnings) != 0 {
		t.Errorf("new commit: %+v, %v; want %s", res, err, second)
	}
	if got := readT(t, filepath.Join(dir, "clusters/cluster_a.py")); got != "two" {
		t.Errorf("checkout has %q, want two", got)
	}

	// A deleted file goes; so does a forced push's old history.
	testutil.Git(t, u.Work, "reset", "--quiet", "--hard", first)
	third := u.Commit("rewritten", map[string]string{"clusters/cluster_c.py": "c"})
	res, err = g.Sync(ctx)
	if err != nil || !res.Changed || res.Revision != third {
		t.Fatalf("forced push: %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters/cluster_b.py")); !os.IsNotExist(err) {
		t.Errorf("cluster_b.py of the dropped commit is still there: %v", err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not in origin/master") {
		t.Errorf("warnings %q, want one about the dropped commit", res.Warnings)
	}
}

func TestSyncOtherBranches(t *testing.T) {
	testutil.HermeticGit(t)
	u := testutil.NewUpstream(t, map[string]string{"f": "master"})
	testutil.Git(t, u.Work, "checkout", "--quiet", "-b", "stable")
	rev := u.Commit("stable", map[string]string{"f": "stable"})
	testutil.Git(t, u.Work, "push", "--quiet", "origin", "stable")
	dir := filepath.Join(t.TempDir(), "c")
	g := &Git{URL: "file://" + u.Bare, RemoteBranch: "upstream/stable", LocalBranch: "tests", Dir: dir}
	res, err := g.Sync(context.Background())
	if err != nil || res.Revision != rev {
		t.Fatalf("%+v, %v", res, err)
	}
	if b := testutil.Git(t, dir, "symbolic-ref", "--short", "HEAD"); b != "tests" {
		t.Errorf("branch %q, want tests", b)
	}
	if got := testutil.Git(t, dir, "config", "--get", "remote.upstream.url"); got != "file://"+u.Bare {
		t.Errorf("remote upstream is %q", got)
	}
	if got := readT(t, filepath.Join(dir, "f")); got != "stable" {
		t.Errorf("f = %q", got)
	}

	g.RemoteBranch = "upstream/nope"
	if _, err := g.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), `has no branch "nope"`) {
		t.Errorf("missing branch: %v", err)
	}
}

// TestSyncSetsLocalEditsAside: the master's checkout follows the remote,
// but an edit made there by hand is stashed, not lost.
func TestSyncSetsLocalEditsAside(t *testing.T) {
	ctx := context.Background()
	u, dir, g, _ := syncedGit(t)
	os.WriteFile(filepath.Join(dir, "a.py"), []byte("edited by hand"), 0o644)
	os.WriteFile(filepath.Join(dir, "new.py"), []byte("untracked"), 0o644)
	rev := u.Commit("upstream edit", map[string]string{"a.py": "upstream"})

	res, err := g.Sync(ctx)
	if err != nil || res.Revision != rev {
		t.Fatalf("%+v, %v", res, err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "a.py, new.py") || !strings.Contains(res.Warnings[0], "git stash") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if got := readT(t, filepath.Join(dir, "a.py")); got != "upstream" {
		t.Errorf("a.py = %q, want upstream's", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.py")); !os.IsNotExist(err) {
		t.Errorf("new.py still in the checkout: %v", err)
	}
	if got := testutil.Git(t, dir, "show", "stash@{0}:a.py"); got != "edited by hand" {
		t.Errorf("stash has a.py = %q", got)
	}
	if got := testutil.Git(t, dir, "show", "stash@{0}^3:new.py"); got != "untracked" {
		t.Errorf("stash has new.py = %q", got)
	}
	if res, err := g.Sync(ctx); err != nil || len(res.Warnings) != 0 || res.Changed {
		t.Errorf("clean again: %+v, %v", res, err)
	}
}

func TestSyncRefusesForeignFolders(t *testing.T) {
	testutil.HermeticGit(t)
	ctx := context.Background()
	u := testutil.NewUpstream(t, map[string]string{"a.py": "a"})

	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "notes.txt"), []byte("mine"), 0o644)
	_, err := newGit(u, plain).Sync(ctx)
	if err == nil || !strings.Contains(err.Error(), "is not a git checkout") || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("plain folder: %v", err)
	}
	if got := readT(t, filepath.Join(plain, "notes.txt")); got != "mine" {
		t.Errorf("notes.txt = %q", got)
	}

	// A folder inside someone's checkout is not a checkout of its own.
	other := testutil.NewUpstream(t, map[string]string{"x/y": "z"})
	_, err = newGit(u, filepath.Join(other.Work, "x")).Sync(ctx)
	if err == nil || !strings.Contains(err.Error(), "is inside") {
		t.Errorf("subfolder of a checkout: %v", err)
	}

	_, err = newGit(u, other.Work).Sync(ctx)
	if err == nil || !strings.Contains(err.Error(), "is a checkout of "+other.Bare+", not of remote_repo "+u.Bare) {
		t.Errorf("checkout of another remote: %v", err)
	}
	if got := testutil.Git(t, other.Work, "log", "--format=%s"); got != "first" {
		t.Errorf("the other checkout was changed: %q", got)
	}
}

// TestSyncFailureKeepsCheckout: an unreachable remote is an error; the
// checkout and its revision stay as they were.
func TestSyncFailureKeepsCheckout(t *testing.T) {
	ctx := context.Background()
	u, dir, g, first := syncedGit(t)
	os.Rename(u.Bare, u.Bare+".gone")
	res, err := g.Sync(ctx)
	if err == nil || !strings.Contains(err.Error(), "git fetch") {
		t.Fatalf("unreachable: %+v, %v", res, err)
	}
	if res.Revision != first.Revision || res.Changed {
		t.Errorf("after a failure: %+v, want revision %s", res, first.Revision)
	}
	if got := readT(t, filepath.Join(dir, "a.py")); got != "a" {
		t.Errorf("a.py = %q", got)
	}
	os.Rename(u.Bare+".gone", u.Bare)
	rev := u.Commit("back", map[string]string{"a.py": "b"})
	if res, err := g.Sync(ctx); err != nil || res.Revision != rev {
		t.Errorf("retry: %+v, %v", res, err)
	}

	// A clone that fails leaves nothing behind that the next try refuses;
	// an empty local_path is cloned into.
	g2 := &Git{URL: filepath.Join(t.TempDir(), "missing.git"), RemoteBranch: "origin/master", LocalBranch: "master", Dir: t.TempDir()}
	if _, err := g2.Sync(ctx); err == nil || !strings.Contains(err.Error(), "git clone") {
		t.Errorf("clone of a missing repository: %v", err)
	}
	g2.URL = u.Bare
	if res, err := g2.Sync(ctx); err != nil || res.Revision != rev {
		t.Errorf("clone after a failed one: %+v, %v", res, err)
	}
	if got := readT(t, filepath.Join(g2.Dir, "a.py")); got != "b" {
		t.Errorf("a.py = %q", got)
	}
}

// TestSyncNeverShowsCredentials: a password (or token) in remote_repo is
// not in any error.
func TestSyncNeverShowsCredentials(t *testing.T) {
	testutil.HermeticGit(t)
	for _, url := range []string{
		"https://alice:s3cret@127.0.0.1:1/defs.git",
		"https://s3cret@127.0.0.1:1/defs.git",
		"http://alice:s3cret@127.0.0.1:1/defs.git",
	} {
		g := &Git{URL: url, RemoteBranch: "origin/master", LocalBranch: "master", Dir: filepath.Join(t.TempDir(), "c"), Timeout: 20 * time.Second}
		_, err := g.Sync(context.Background())
		if err == nil {
			t.Fatalf("%s: no error", url)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("credentials in the error: %v", err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("error does not name the (redacted) remote: %v", err)
		}
	}
}

// TestSyncTimeout: a remote that never answers is given up after the
// timeout, its ssh child included.
func TestSyncTimeout(t *testing.T) {
	testutil.HermeticGit(t)
	t.Setenv("GIT_SSH_COMMAND", "sleep 60 #")
	g := &Git{URL: "ssh://git@example.invalid/defs.git", RemoteBranch: "origin/master", LocalBranch: "master",
		Dir: filepath.Join(t.TempDir(), "c"), Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := g.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("err %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}

	// An https remote that accepts and never answers; the message names
	// it without its credentials.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	if entries, _ := os.ReadDir(filepath.Dir(g.Dir)); len(entries) != 0 {
		t.Errorf("the clone cut short left %v behind", entries[0].Name())
	}
	g.URL = "https://alice:s3cret@" + ln.Addr().String() + "/defs.git"
	_, err = g.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "git clone https://xxxxx@"+ln.Addr().String()+"/defs.git: timed out") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err %v", err)
	}
}

func TestSyncRejectsBadSettings(t *testing.T) {
	testutil.HermeticGit(t)
	dir := filepath.Join(t.TempDir(), "c")
	for _, g := range []*Git{
		{URL: "/x", RemoteBranch: "origin/--upload-pack=evil", LocalBranch: "master", Dir: dir},
		{URL: "/x", RemoteBranch: "-o/master", LocalBranch: "master", Dir: dir},
		{URL: "/x", RemoteBranch: "origin/a..b", LocalBranch: "master", Dir: dir},
		{URL: "/x", RemoteBranch: "origin/master", LocalBranch: "-f", Dir: dir},
		{URL: "/x", RemoteBranch: "origin/master", LocalBranch: "a b", Dir: dir},
		{URL: "--upload-pack=touch /tmp/x", RemoteBranch: "origin/master", LocalBranch: "master", Dir: dir},
		{URL: "/x", RemoteBranch: "origin/master.lock", LocalBranch: "master", Dir: dir},
	} {
		if _, err := g.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%s %s %s: %v", g.URL, g.RemoteBranch, g.LocalBranch, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a bad setting created the checkout: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://alice:pw@host/r.git":               "https://xxxxx@host/r.git",
		"https://ghp_token@github.com/o/r":          "https://xxxxx@github.com/o/r",
		"HTTP://a:b@h/":                             "HTTP://xxxxx@h/",
		"ssh://git@host/r.git":                      "ssh://git@host/r.git",
		"ssh://git:pw@host/r.git":                   "ssh://git:xxxxx@host/r.git",
		"git@host:r.git":                            "git@host:r.git",
		"/srv/git/r.git":                            "/srv/git/r.git",
		"fatal: unable to access 'https://a:b@h/x'": "fatal: unable to access 'https://xxxxx@h/x'",
		"https://h/x and https://u:p@h/y":           "https://h/x and https://xxxxx@h/y",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkSyncUnchanged is the cost of a poll that finds nothing new
// (the master's steady state, every poll_interval per repository).
func BenchmarkSyncUnchanged(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("no git binary")
	}
	u := testutil.NewUpstream(b, map[string]string{"a.py": "a"})
	g := newGit(u, filepath.Join(b.TempDir(), "c"))
	if _, err := g.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if res, err := g.Sync(context.Background()); err != nil || res.Changed {
			b.Fatal(res, err)
		}
	}
}
