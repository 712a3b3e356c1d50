// Package repo keeps the master's clones of git definition repositories
// ([test-repo-NAME] type = git) in step with their remotes.
//
// It runs the git binary rather than a Go implementation: the users' ssh
// keys and ~/.ssh/config, credential helpers, proxies and every transport
// work exactly as with their own git, and no large dependency is added.
// Every command runs without a shell, with a timeout, with prompts turned
// off (GIT_TERMINAL_PROMPT=0, ssh BatchMode) and with hooks disabled.
// Credentials written into remote_repo never appear in errors: see Redact.
package repo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultTimeout bounds one git command (a clone or fetch included).
const DefaultTimeout = 2 * time.Minute

// Git is one git repository the master keeps a checkout of.
//
// The master owns the checkout: Sync makes it equal to the remote branch.
// Local edits are not thrown away but set aside with git stash, and local
// commits stay in the reflog; both are reported as warnings.
type Git struct {
	// URL is remote_repo: any URL git understands (https, ssh, scp-like
	// host:path, file, a local path).
	URL string
	// RemoteBranch is remote_branch, REMOTE/BRANCH ("origin/master"); a
	// value without a slash is a branch of "origin".
	RemoteBranch string
	// LocalBranch is local_branch ("master"), the branch checked out.
	LocalBranch string
	// Dir is local_path, the checkout.
	Dir string
	// Timeout bounds each git command; 0: DefaultTimeout.
	Timeout time.Duration
	// GitPath is the git binary; "": git from PATH.
	GitPath string

	mu      sync.Mutex // one Sync at a time
	environ []string   // git's environment, made by the first Sync
	checked bool       // the settings passed the first Sync's checks
}

// Result is what a Sync did.
type Result struct {
	// Revision is the commit checked out (40 hex digits). After a failed
	// Sync it is the checkout's commit, if there is one.
	Revision string
	// Changed is true when the checkout moved (or was just cloned).
	Changed bool
	// Warnings report local changes or commits set aside.
	Warnings []string
}

// remote splits RemoteBranch into the remote's name and its branch.
func (g *Git) remote() (name, branch string) {
	if r, b, ok := strings.Cut(g.RemoteBranch, "/"); ok {
		return r, b
	}
	return "origin", g.RemoteBranch
}

// validRef rejects what could be taken for an option or is not a plain
// ref name; git check-ref-format does the rest.
var validRef = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*$`)

// Sync clones the repository if Dir does not exist (or is empty), else
// fetches it, and checks out LocalBranch at the remote branch's commit.
// It refuses to touch a Dir that is not a checkout of URL. Concurrent
// calls run one after the other.
func (g *Git) Sync(ctx context.Context) (Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.environ == nil {
		g.environ = g.env()
	}
	var res Result
	remote, branch := g.remote()
	if err := g.check(ctx, remote, branch); err != nil {
		return res, err
	}

	cloned := false
	entries, err := os.ReadDir(g.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0:
		if err := g.clone(ctx, remote); err != nil {
			return res, err
		}
		cloned = true
	case err != nil:
		return res, fmt.Errorf("local_path %s: %w", g.Dir, err)
	default:
		if err := g.checkOwned(ctx, remote); err != nil {
			return res, err
		}
		res.Revision = g.head(ctx)
		if _, err := g.run(ctx, g.Dir, "fetch", "--quiet", "--prune", "--", remote); err != nil {
			return res, err
		}
	}

	target, err := g.run(ctx, g.Dir, "rev-parse", "--verify", "--quiet", "refs/remotes/"+remote+"/"+branch+"^{commit}")
	if err != nil {
		return res, fmt.Errorf("%s has no branch %q (remote_branch %s)", Redact(g.URL), branch, g.RemoteBranch)
	}
	old := res.Revision
	clean := false
	if !cloned {
		if res.Warnings, clean, err = g.setAside(ctx, old, target); err != nil {
			return res, err
		}
	}
	if clean && old == target {
		return res, nil // the tree is the target's already
	}
	if _, err := g.run(ctx, g.Dir, "checkout", "--quiet", "--force", "-B", g.LocalBranch, target, "--"); err != nil {
		return res, err
	}
	res.Revision = g.head(ctx)
	if res.Revision != target {
		return res, fmt.Errorf("%s: checked out %s, want %s", g.Dir, res.Revision, target)
	}
	res.Changed = cloned || old != res.Revision
	return res, nil
}

// check refuses, once (they do not change), settings git could take for
// options or that are no ref names.
func (g *Git) check(ctx context.Context, remote, branch string) error {
	if g.checked {
		return nil
	}
	if !validRef.MatchString(remote) || !validRef.MatchString(branch) || strings.Contains(g.RemoteBranch, "..") {
		return fmt.Errorf("invalid remote_branch %q: want REMOTE/BRANCH, e.g. origin/master", g.RemoteBranch)
	}
	if !validRef.MatchString(g.LocalBranch) || strings.Contains(g.LocalBranch, "..") {
		return fmt.Errorf("invalid local_branch %q", g.LocalBranch)
	}
	if g.URL == "" || strings.HasPrefix(g.URL, "-") {
		return fmt.Errorf("invalid remote_repo %q", Redact(g.URL))
	}
	if _, err := g.run(ctx, "", "check-ref-format", "refs/remotes/"+remote+"/"+branch); err != nil {
		return fmt.Errorf("invalid remote_branch %q", g.RemoteBranch)
	}
	if _, err := g.run(ctx, "", "check-ref-format", "refs/heads/"+g.LocalBranch); err != nil {
		return fmt.Errorf("invalid local_branch %q", g.LocalBranch)
	}
	g.checked = true
	return nil
}

// clone clones into a new folder beside Dir and renames it into place: a
// clone cut short (timeout, crash) leaves no half-made checkout at Dir.
func (g *Git) clone(ctx context.Context, remote string) error {
	parent := filepath.Dir(g.Dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("local_path: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(g.Dir)+".clone-")
	if err != nil {
		return fmt.Errorf("local_path: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename
	if _, err := g.run(ctx, "", "clone", "--quiet", "--no-checkout", "--origin", remote, "--", g.URL, tmp); err != nil {
		return err
	}
	// An empty local_path is replaced (Remove fails on anything else).
	if err := os.Remove(g.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local_path: %w", err)
	}
	if err := os.Rename(tmp, g.Dir); err != nil {
		return fmt.Errorf("local_path: %w", err)
	}
	return nil
}

// checkOwned makes sure Dir is the top of a checkout whose remote is URL:
// anything else may be someone's work, and is left alone.
func (g *Git) checkOwned(ctx context.Context, remote string) error {
	refuse := func(why string) error {
		return fmt.Errorf("local_path %s %s: refusing to take it over; remove it (it is cloned again) or set local_path to another folder", g.Dir, why)
	}
	top, err := g.run(ctx, g.Dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return refuse(fmt.Sprintf("is not a git checkout (%v)", err))
	}
	want, err1 := filepath.EvalSymlinks(g.Dir)
	got, err2 := filepath.EvalSymlinks(top)
	if err1 != nil || err2 != nil || want != got {
		return refuse("is not a git checkout (it is inside " + top + ")")
	}
	url, err := g.run(ctx, g.Dir, "config", "--get", "remote."+remote+".url")
	if err != nil {
		return refuse(fmt.Sprintf("has no remote %q", remote))
	}
	if url != g.URL {
		return refuse(fmt.Sprintf("is a checkout of %s, not of remote_repo %s", Redact(url), Redact(g.URL)))
	}
	return nil
}

// Head returns the commit checked out at Dir without asking the remote,
// or "" when there is none yet. It waits for a Sync under way.
func (g *Git) Head(ctx context.Context) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.environ == nil {
		g.environ = g.env()
	}
	if _, err := os.Stat(g.Dir); err != nil {
		return ""
	}
	return g.head(ctx)
}

// head returns the commit checked out, or "" (none yet, or unreadable).
func (g *Git) head(ctx context.Context) string {
	rev, err := g.run(ctx, g.Dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil {
		return ""
	}
	return rev
}

// setAside stashes local edits (untracked files included) and reports
// local commits that the checkout of target leaves behind; clean tells
// that there were no edits.
func (g *Git) setAside(ctx context.Context, old, target string) (warns []string, clean bool, err error) {
	status, err := g.run(ctx, g.Dir, "status", "--porcelain", "--untracked-files=all")
	if err != nil {
		return nil, false, err
	}
	if status != "" {
		files := strings.Split(status, "\n")
		for i, f := range files {
			files[i] = strings.TrimSpace(f[min(3, len(f)):])
		}
		shown := files
		if len(shown) > 5 {
			shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(files)-5))
		}
		msg := "xrdtest: local changes set aside before checking out " + g.RemoteBranch + " at " + time.Now().UTC().Format(time.RFC3339)
		if _, err := g.run(ctx, g.Dir, "stash", "push", "--quiet", "--include-untracked", "--message", msg); err != nil {
			return nil, false, fmt.Errorf("local changes in %s (%s) could not be set aside: %w", g.Dir, strings.Join(shown, ", "), err)
		}
		warns = append(warns, fmt.Sprintf("local changes in %s (%s) were set aside with git stash (see git stash list there): the master's checkout follows %s",
			g.Dir, strings.Join(shown, ", "), g.RemoteBranch))
	}
	if old != "" && old != target {
		if _, err := g.run(ctx, g.Dir, "merge-base", "--is-ancestor", old, target); err != nil {
			warns = append(warns, fmt.Sprintf("%s was at %s, which is not in %s (local commits or a forced push): now at %s; the old commit stays in git reflog",
				g.Dir, short(old), g.RemoteBranch, short(target)))
		}
	}
	return warns, status == "", nil
}

func short(rev string) string { return rev[:min(12, len(rev))] }

// run runs git with args in dir ("" for none) and returns its standard
// output without trailing blanks. Errors carry git's message, credentials redacted.
func (g *Git) run(parent context.Context, dir string, args ...string) (string, error) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	gitPath := cmp.Or(g.GitPath, "git")
	// No hooks or fsmonitor program of the checkout run; stash (a commit)
	// gets an identity whatever the user's configuration says.
	full := append([]string{"-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "protocol.ext.allow=never",
		"-c", "user.name=xrdtest", "-c", "user.email=xrdtest@localhost"}, args...)
	cmd := exec.CommandContext(ctx, gitPath, full...)
	cmd.Dir = dir
	cmd.Env = g.environ
	var stdout bytes.Buffer
	stderr := &limitedBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// git starts ssh or a remote helper: on timeout the whole process
	// group goes, else a child holding the pipes would keep Wait waiting.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err != nil {
		what := "git " + args[0]
		switch {
		case parent.Err() != nil:
			return "", fmt.Errorf("%s: %w", what, parent.Err())
		case ctx.Err() != nil:
			return "", fmt.Errorf("%s %s: timed out after %s", what, Redact(g.URL), timeout)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("%s: %v", what, err)
		}
		return "", fmt.Errorf("%s: %v: %s", what, err, Redact(msg))
	}
	return strings.TrimRight(stdout.String(), " \r\n"), nil
}

// env is the environment of git: the master's, without prompts. ssh runs
// in batch mode unless the user chose an ssh command.
func (g *Git) env() []string {
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "LANGUAGE=")
	if os.Getenv("GIT_SSH_COMMAND") == "" && os.Getenv("GIT_SSH") == "" {
		// core.sshCommand would lose to GIT_SSH_COMMAND: keep it if set.
		cmd := exec.Command(cmp.Or(g.GitPath, "git"), "config", "--get", "core.sshCommand")
		if st, err := os.Stat(g.Dir); err == nil && st.IsDir() {
			cmd.Dir = g.Dir // its own configuration counts too
		}
		cmd.Env = env
		if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) == "" {
			env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
		}
	}
	return env
}

// userinfo matches the user[:password]@ of a URL in free text.
var userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*)://([^/@\s'"]+)@`)

// Redact hides credentials in a URL, or in any text containing URLs: a
// password always, and for http(s) the user too (a token is often given
// as the user name). ssh://git@host stays as it is.
func Redact(s string) string {
	return userinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfo.FindStringSubmatch(m)
		scheme, info := strings.ToLower(sub[1]), sub[2]
		user, _, hasPassword := strings.Cut(info, ":")
		switch {
		case scheme == "http" || scheme == "https":
			return sub[1] + "://xxxxx@"
		case hasPassword:
			return sub[1] + "://" + user + ":xxxxx@"
		}
		return m
	})
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
