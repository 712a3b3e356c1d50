package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// HermeticGit skips the test without a git binary and keeps the user's
// and the system's git configuration, ssh command and proxies out of it.
func HermeticGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git binary (scripts/setup.sh installs it)")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, v := range []string{"GIT_SSH_COMMAND", "GIT_SSH", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"} {
		t.Setenv(v, "")
	}
}

// Upstream is a bare repository (the remote, Bare) and a work tree (Work)
// that commits and pushes to its master branch.
type Upstream struct {
	t    testing.TB
	Bare string
	Work string
}

// NewUpstream creates a bare repository whose master has one commit with
// the given files (paths relative to the repository, slash-separated).
func NewUpstream(t testing.TB, files map[string]string) *Upstream {
	t.Helper()
	dir := t.TempDir()
	u := &Upstream{t: t, Bare: filepath.Join(dir, "origin.git"), Work: filepath.Join(dir, "work")}
	Git(t, dir, "init", "--quiet", "--bare", "--initial-branch=master", u.Bare)
	Git(t, dir, "init", "--quiet", "--initial-branch=master", u.Work)
	Git(t, u.Work, "remote", "add", "origin", u.Bare)
	u.Commit("first", files)
	return u
}

// Commit writes files ("" deletes one), commits them and force-pushes
// HEAD to master; it returns the commit id.
func (u *Upstream) Commit(msg string, files map[string]string) string {
	u.t.Helper()
	for p, c := range files {
		full := filepath.Join(u.Work, filepath.FromSlash(p))
		if c == "" {
			os.Remove(full)
			continue
		}
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
	Git(u.t, u.Work, "add", "--all")
	Git(u.t, u.Work, "commit", "--quiet", "--allow-empty", "-m", msg)
	Git(u.t, u.Work, "push", "--quiet", "--force", "origin", "HEAD:master")
	return Git(u.t, u.Work, "rev-parse", "HEAD")
}

// Git runs git in dir and returns its trimmed output; a failure ends the
// test.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
