package catalog

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/repo"
)

// DefaultGitStartWait is how long Start waits for the first fetch of the
// git repositories: a remote that hangs delays the master's start by this
// much, not by git's command timeout.
const DefaultGitStartWait = 10 * time.Second

// DefaultPollInterval is how often a git repository is fetched when its
// GitRepo sets no interval (the original's fixed period).
const DefaultPollInterval = 30 * time.Second

// GitRepo is a repository of Config.Repos, matched by Name, that is a git
// checkout the master keeps in step with its remote: cloned at start if
// absent, fetched every Interval and when a reload is asked for.
type GitRepo struct {
	Name     string
	Git      *repo.Git
	Interval time.Duration // 0: DefaultPollInterval
}

// RepoStatus is a repository as last loaded, Problem a definition error
// or warning with its repository's name, and ReloadReport what a reload
// found: the API's wire types.
type (
	RepoStatus   = api.RepoStatus
	Problem      = api.Problem
	ReloadReport = api.ReloadReport
)

// Config configures a Catalog.
type Config struct {
	// Repos are the definition repositories, searched in this order.
	Repos []definition.Repo
	// Git lists the repositories of Repos that are git checkouts the
	// catalog clones and fetches; the others are watched on disk.
	Git []GitRepo
	// GitStartWait bounds how long Start waits for the first fetch of the
	// git repositories before it goes on with the checkouts it has; the
	// fetch goes on in the background (0: DefaultGitStartWait; negative:
	// no wait).
	GitStartWait time.Duration
	// Loaded, if set, is called with every set of definitions loaded,
	// once Definitions returns it (the scheduler's suites).
	Loaded func(*definition.Set)
	// ManifestDir keeps the file lists of the localfs repositories'
	// revisions (manifests.go; "": none are kept, and what changed
	// between two of them is not known).
	ManifestDir string
	Log         *slog.Logger
}

// Catalog keeps the master's current definitions. Everything that touches
// the checkouts and the definitions (polls, the watcher, reloads asked
// for) is serialized, and it remembers how each git repository's last
// fetch went.
type Catalog struct {
	cfg  Config
	defs atomic.Pointer[definition.Set]

	mu         sync.Mutex
	git        map[string]*gitState         // under mu
	lastReport atomic.Pointer[ReloadReport] // of the set loaded last

	// The first fetch, started by Start: Close cancels it and waits.
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

// New returns a catalog of cfg's repositories with nothing loaded yet:
// Start loads them.
func New(cfg Config) (*Catalog, error) {
	c := &Catalog{cfg: cfg, git: map[string]*gitState{}}
	for _, g := range cfg.Git {
		if !slices.ContainsFunc(cfg.Repos, func(r definition.Repo) bool { return r.Name == g.Name }) {
			return nil, fmt.Errorf("git repository %q is not among the repositories", g.Name)
		}
		c.git[g.Name] = &gitState{GitRepo: g}
	}
	return c, nil
}

// Start loads the definitions from the checkouts as they are, then
// fetches the git repositories in the background and loads again; it
// waits for that fetch at most Config.GitStartWait. Close stops it.
func (c *Catalog) Start(ctx context.Context) {
	c.loadCheckouts(ctx)
	c.firstFetch(ctx)
}

// loadCheckouts loads the definitions from the git checkouts as they are,
// without the network: the master starts with what it ran last even when
// a remote cannot be reached.
func (c *Catalog) loadCheckouts(ctx context.Context) {
	c.mu.Lock()
	for _, g := range c.git {
		g.revision = g.Git.Head(ctx)
	}
	c.mu.Unlock()
	c.reload(ctx, func(string) bool { return false }, true)
}

// firstFetch fetches the git repositories in the background, then loads
// the definitions again; it waits for that at most GitStartWait.
func (c *Catalog) firstFetch(ctx context.Context) {
	done := make(chan struct{})
	c.firstDone = done
	if len(c.cfg.Git) == 0 {
		close(done)
		return
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stopFirst = stop
	started := time.Now()
	go func() {
		defer close(done)
		c.reload(bg, func(string) bool { return true }, true)
	}()
	wait := cmp.Or(c.cfg.GitStartWait, DefaultGitStartWait)
	if wait < 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.cfg.Log.Warn("the git repositories are still syncing: the master starts with the checkouts it has and loads the new definitions when the sync ends",
			"waited", time.Since(started).Round(time.Millisecond))
	}
}

// Close cancels the first fetch if it is still under way and waits for it
// to end.
func (c *Catalog) Close() {
	if c.stopFirst != nil {
		c.stopFirst()
	}
	if c.firstDone != nil {
		<-c.firstDone
	}
}

// Definitions returns the definitions loaded last.
func (c *Catalog) Definitions() *definition.Set { return c.defs.Load() }

// Reload fetches the git repositories, then loads every repository again,
// and reports what it found. Running sessions keep the definitions they
// started with.
func (c *Catalog) Reload(ctx context.Context) *ReloadReport {
	return c.reload(ctx, func(string) bool { return true }, true)
}

// LastReload reports the definitions loaded last; it does not wait for a
// reload under way.
func (c *Catalog) LastReload() *ReloadReport { return c.lastReport.Load() }

// reload syncs the git repositories that which selects, then loads the
// definitions if asked to (force) or if a sync changed something: a new
// revision, or a failure appearing, changing or going away.
func (c *Catalog) reload(ctx context.Context, which func(name string) bool, force bool) *ReloadReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := force
	for _, g := range c.cfg.Git {
		if which(g.Name) && c.fetchGit(ctx, c.git[g.Name]) {
			changed = true
		}
	}
	if last := c.lastReport.Load(); !changed && last != nil {
		return last
	}

	repos := slices.Clone(c.cfg.Repos)
	for i, r := range repos {
		if g := c.git[r.Name]; g != nil {
			repos[i].Revision = g.revision // "" before the first clone: a digest
		}
	}
	set := definition.Load(ctx, repos, definition.Options{})
	for i, r := range set.Repos { // in the order of c.cfg.Repos
		if g := c.git[c.cfg.Repos[i].Name]; g != nil {
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
	keepLastGood(c.defs.Load(), set)
	rep := c.report(set)
	for _, p := range rep.Errors { // by repository name, as the API says
		c.cfg.Log.Warn("definition error", "repo", p.Repo, "file", p.File, "line", p.Line, "msg", p.Message)
	}
	c.cfg.Log.Info("definitions loaded", "clusters", len(set.Clusters), "suites", len(set.Suites), "errors", len(rep.Errors))
	c.defs.Store(set)
	c.saveManifests(set)
	if c.cfg.Loaded != nil {
		c.cfg.Loaded(set)
	}
	c.lastReport.Store(rep)
	return rep
}

// syncGit fetches one repository; it reports whether the definitions
// must be loaded again. A failure is logged and kept for the report; the
// checkout stays as it was.
func (c *Catalog) fetchGit(ctx context.Context, g *gitState) bool {
	log := c.cfg.Log.With("repo", g.Name, "remote", repo.Redact(g.Git.URL), "branch", g.Git.RemoteBranch)
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

func (c *Catalog) report(set *definition.Set) *ReloadReport {
	r := &ReloadReport{Loaded: time.Now(), Clusters: len(set.Clusters), Suites: len(set.Suites), Errors: []Problem{}, Warnings: []Problem{}}
	names := map[string]string{}
	for i, lr := range set.Repos { // in the order of c.cfg.Repos
		names[lr.Root] = lr.Name
		st := RepoStatus{Name: lr.Name, Type: "localfs", Path: lr.Root, Revision: lr.Revision}
		if g := c.git[c.cfg.Repos[i].Name]; g != nil {
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

// Run keeps the definitions current until ctx ends: it fetches each git
// repository at its interval (a failed fetch is tried again at the next
// one) and, unless debounce is negative, reloads when files of the
// localfs repositories change and then stay unchanged for debounce.
func (c *Catalog) Run(ctx context.Context, debounce time.Duration) {
	var wg sync.WaitGroup
	c.pollGit(ctx, &wg)
	if debounce >= 0 {
		if err := c.watch(ctx, cmp.Or(debounce, 500*time.Millisecond)); err != nil {
			c.cfg.Log.Warn("definitions are not watched: reload by restarting", "err", err)
		}
	}
	wg.Wait()
}

// pollGit fetches each git repository at its interval until ctx ends.
func (c *Catalog) pollGit(ctx context.Context, wg *sync.WaitGroup) {
	for _, g := range c.cfg.Git {
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
					c.reload(ctx, func(name string) bool { return name == g.Name }, false)
				}
			}
		}()
	}
}

// localRepos are the repositories the watcher follows: not the git
// checkouts, which change only when the master syncs them.
func (c *Catalog) localRepos() []definition.Repo {
	var out []definition.Repo
	for _, r := range c.cfg.Repos {
		if c.git[r.Name] == nil {
			out = append(out, r)
		}
	}
	return out
}
