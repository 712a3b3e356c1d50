package master

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/repo"
)

// DefaultGitStartWait is how long Open waits for the first sync of the
// git repositories: a remote that hangs delays the master's start by this
// much, not by git's command timeout.
const DefaultGitStartWait = 10 * time.Second

// DefaultPollInterval is how often a git repository is fetched when its
// GitRepo sets no interval (the original's fixed period).
const DefaultPollInterval = 30 * time.Second

// GitRepo is a repository of Options.Repos, matched by Name, that is a git
// checkout the master keeps in step with its remote: cloned at start if
// absent, fetched every Interval and when a reload is asked for.
type GitRepo struct {
	Name     string
	Git      *repo.Git
	Interval time.Duration // 0: DefaultPollInterval
}

// RepoStatus is the state of one repository as last loaded.
type RepoStatus struct {
	Name string `json:"name"`
	Type string `json:"type"` // localfs or git
	Path string `json:"path"`
	// Revision of the definitions loaded: the git commit, or for localfs a
	// digest of the files read ("sha256:" and 12 hex digits).
	Revision string `json:"revision"`
	// Git only: the remote (credentials redacted) and branch followed,
	// when the last sync succeeded, and why the last one failed.
	Remote   string    `json:"remote,omitempty"`
	Branch   string    `json:"branch,omitempty"`
	Synced   time.Time `json:"synced,omitzero"`
	Error    string    `json:"error,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Problem is a definition error or warning, with its repository's name.
type Problem struct {
	Repo    string `json:"repo"`
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// ReloadReport is what the last reload found: the repositories with their
// revisions and sync errors, and the definitions' errors and warnings (a
// git sync failure is among the errors too).
type ReloadReport struct {
	Loaded   time.Time    `json:"loaded"`
	Repos    []RepoStatus `json:"repos"`
	Clusters int          `json:"clusters"`
	Suites   int          `json:"suites"`
	Errors   []Problem    `json:"errors"`
	Warnings []Problem    `json:"warnings"`
}

// repoState serializes everything that touches the checkouts and the
// definitions (polls, watcher, on-demand reloads), and remembers how each
// git repository's last sync went.
type repoState struct {
	mu     sync.Mutex
	git    map[string]*gitState         // under mu
	report atomic.Pointer[ReloadReport] // of the set loaded last

	// The first sync, started by Open: Close cancels it and waits.
	stopFirst context.CancelFunc
	firstDone chan struct{}
}

type gitState struct {
	GitRepo
	revision string
	synced   time.Time
	err      string
	warnings []string
}

func (m *Master) initRepos() error {
	m.repos.git = map[string]*gitState{}
	for _, g := range m.opts.Git {
		if !slices.ContainsFunc(m.opts.Repos, func(r definition.Repo) bool { return r.Name == g.Name }) {
			return fmt.Errorf("git repository %q is not among the repositories", g.Name)
		}
		m.repos.git[g.Name] = &gitState{GitRepo: g}
	}
	return nil
}

// loadCheckouts loads the definitions from the git checkouts as they are,
// without the network: the master starts with what it ran last even when
// a remote cannot be reached.
func (m *Master) loadCheckouts(ctx context.Context) {
	m.repos.mu.Lock()
	for _, g := range m.repos.git {
		g.revision = g.Git.Head(ctx)
	}
	m.repos.mu.Unlock()
	m.reload(ctx, func(string) bool { return false }, true)
}

// firstSync syncs the git repositories in the background, then loads the
// definitions again; Open waits for it at most GitStartWait.
func (m *Master) firstSync(ctx context.Context) {
	done := make(chan struct{})
	m.repos.firstDone = done
	if len(m.opts.Git) == 0 {
		close(done)
		return
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.repos.stopFirst = stop
	started := time.Now()
	go func() {
		defer close(done)
		m.reload(bg, func(string) bool { return true }, true)
	}()
	wait := cmp.Or(m.opts.GitStartWait, DefaultGitStartWait)
	if wait < 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		m.opts.Log.Warn("the git repositories are still syncing: the master starts with the checkouts it has and loads the new definitions when the sync ends",
			"waited", time.Since(started).Round(time.Millisecond))
	}
}

// stopFirstSync cancels the first sync if it is still under way and waits
// for it to end.
func (m *Master) stopFirstSync() {
	if m.repos.stopFirst != nil {
		m.repos.stopFirst()
	}
	if m.repos.firstDone != nil {
		<-m.repos.firstDone
	}
}

// Reload fetches the git repositories, then loads every repository again.
// Running sessions keep the definitions they started with.
func (m *Master) Reload(ctx context.Context) *definition.Set {
	m.reload(ctx, func(string) bool { return true }, true)
	return m.Definitions()
}

// ReloadReport is Reload, reporting what it found.
func (m *Master) ReloadReport(ctx context.Context) *ReloadReport {
	return m.reload(ctx, func(string) bool { return true }, true)
}

// LastReload reports the definitions loaded last; it does not wait for a
// reload under way.
func (m *Master) LastReload() *ReloadReport { return m.repos.report.Load() }

// reload syncs the git repositories that which selects, then loads the
// definitions if asked to (force) or if a sync changed something: a new
// revision, or a failure appearing, changing or going away.
func (m *Master) reload(ctx context.Context, which func(name string) bool, force bool) *ReloadReport {
	m.repos.mu.Lock()
	defer m.repos.mu.Unlock()
	changed := force
	for _, g := range m.opts.Git {
		if which(g.Name) && m.syncGit(ctx, m.repos.git[g.Name]) {
			changed = true
		}
	}
	if last := m.repos.report.Load(); !changed && last != nil {
		return last
	}

	repos := slices.Clone(m.opts.Repos)
	for i, r := range repos {
		if g := m.repos.git[r.Name]; g != nil {
			repos[i].Revision = g.revision // "" before the first clone: a digest
		}
	}
	set := definition.Load(ctx, repos, definition.Options{})
	for i, r := range set.Repos { // in the order of m.opts.Repos
		if g := m.repos.git[m.opts.Repos[i].Name]; g != nil {
			if g.revision == "" {
				// Nothing checked out: what loading the empty folder says
				// (not a repository, the digest of nothing) is noise.
				set.Diagnostics = slices.DeleteFunc(set.Diagnostics, func(d definition.Diagnostic) bool { return d.Repo == r.Root })
				set.Repos[i].Revision = ""
			}
			if g.err == "" && g.revision == "" {
				set.Diagnostics = append(set.Diagnostics, definition.Diagnostic{Severity: definition.Warning, Repo: r.Root, File: ".",
					Message: fmt.Sprintf("nothing is checked out yet: the first clone from %s (%s) is under way", repo.Redact(g.Git.URL), g.Git.RemoteBranch)})
			}
			if g.err != "" {
				at := "nothing is checked out"
				if g.revision != "" {
					at = "the definitions of " + short(g.revision) + " stay in use"
				}
				set.Diagnostics = append(set.Diagnostics, definition.Diagnostic{Severity: definition.Error, Repo: r.Root, File: ".",
					Message: fmt.Sprintf("cannot update from %s (%s): %s; %s, and it is tried again at the next poll", repo.Redact(g.Git.URL), g.Git.RemoteBranch, g.err, at)})
			}
			for _, w := range g.warnings {
				set.Diagnostics = append(set.Diagnostics, definition.Diagnostic{Severity: definition.Warning, Repo: r.Root, File: ".", Message: w})
			}
		}
	}
	keepLastGood(m.defs.Load(), set)
	rep := m.report(set)
	for _, p := range rep.Errors { // by repository name, as the API says
		m.opts.Log.Warn("definition error", "repo", p.Repo, "file", p.File, "line", p.Line, "msg", p.Message)
	}
	m.opts.Log.Info("definitions loaded", "clusters", len(set.Clusters), "suites", len(set.Suites), "errors", len(rep.Errors))
	m.defs.Store(set)
	m.Scheduler.SetSuites(set.Suites)
	m.repos.report.Store(rep)
	return rep
}

// syncGit fetches one repository; it reports whether the definitions
// must be loaded again. A failure is logged and kept for the report; the
// checkout stays as it was.
func (m *Master) syncGit(ctx context.Context, g *gitState) bool {
	log := m.opts.Log.With("repo", g.Name, "remote", repo.Redact(g.Git.URL), "branch", g.Git.RemoteBranch)
	res, err := g.Git.Sync(ctx)
	prevErr := g.err
	if err != nil && ctx.Err() != nil {
		return false // stopped (the master is closing), not failed
	}
	if err != nil {
		g.err = repo.Redact(err.Error())
		if res.Revision != "" {
			g.revision = res.Revision
		}
		if sameError(g.err, prevErr) {
			log.Debug("the definitions repository is still not reachable", "err", g.err)
			return false
		}
		log.Warn("cannot update the definitions repository: the last good checkout stays in use", "err", g.err)
		return true
	}
	if prevErr != "" {
		log.Info("the definitions repository is reachable again")
	}
	if res.Changed {
		log.Info("definitions repository updated", "from", short(g.revision), "to", short(res.Revision))
	}
	for _, w := range res.Warnings {
		log.Warn(w)
	}
	g.err, g.revision, g.synced = "", res.Revision, time.Now()
	// Warnings (local changes set aside) stay until the next revision.
	if res.Changed || len(res.Warnings) > 0 {
		g.warnings = res.Warnings
	}
	return res.Changed || prevErr != "" || len(res.Warnings) > 0
}

func short(rev string) string { return rev[:min(12, len(rev))] }

var digits = regexp.MustCompile(`[0-9]+`)

// sameError tells whether two failures are the same but for numbers
// ("after 3 ms"), which would reload and log again at every poll.
func sameError(a, b string) bool {
	return digits.ReplaceAllString(a, "N") == digits.ReplaceAllString(b, "N")
}

func (m *Master) report(set *definition.Set) *ReloadReport {
	r := &ReloadReport{Loaded: time.Now(), Clusters: len(set.Clusters), Suites: len(set.Suites), Errors: []Problem{}, Warnings: []Problem{}}
	names := map[string]string{}
	for i, lr := range set.Repos { // in the order of m.opts.Repos
		names[lr.Root] = lr.Name
		st := RepoStatus{Name: lr.Name, Type: "localfs", Path: lr.Root, Revision: lr.Revision}
		if g := m.repos.git[m.opts.Repos[i].Name]; g != nil {
			st.Type, st.Remote, st.Branch, st.Synced, st.Error = "git", repo.Redact(g.Git.URL), g.Git.RemoteBranch, g.synced, g.err
			st.Warnings = g.warnings
		}
		r.Repos = append(r.Repos, st)
	}
	for _, d := range set.Diagnostics {
		p := Problem{Repo: cmp.Or(names[d.Repo], d.Repo), File: d.File, Line: d.Line, Message: d.Message}
		if d.Severity == definition.Error {
			r.Errors = append(r.Errors, p)
		} else {
			r.Warnings = append(r.Warnings, p)
		}
	}
	return r
}

// pollGit fetches each git repository at its interval until ctx ends;
// a failed fetch is tried again at the next one.
func (m *Master) pollGit(ctx context.Context, wg *sync.WaitGroup) {
	for _, g := range m.opts.Git {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(cmp.Or(g.Interval, DefaultPollInterval))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					m.reload(ctx, func(name string) bool { return name == g.Name }, false)
				}
			}
		}()
	}
}

// localRepos are the repositories the watcher follows: not the git
// checkouts, which change only when the master syncs them.
func (m *Master) localRepos() []definition.Repo {
	var out []definition.Repo
	for _, r := range m.opts.Repos {
		if m.repos.git[r.Name] == nil {
			out = append(out, r)
		}
	}
	return out
}
