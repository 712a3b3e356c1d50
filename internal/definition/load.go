package definition

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition/pyeval"
)

// MaxDefinitionBytes bounds a definition file.
const MaxDefinitionBytes = 1 << 20

// Repo is one definitions repository: a folder of cluster definitions and
// a folder of test suites, both relative to Root.
type Repo struct {
	// Name names the repository in revisions (NAME@REVISION); default:
	// the base name of Root.
	Name       string
	Root       string
	ClusterDir string // default "clusters"
	SuiteDir   string // default "test-suites"
	// Revision identifies what is loaded, e.g. the git commit checked
	// out. Empty: Load sets it to a digest of the files it read from the
	// repository (definitions and stage scripts): "sha256:" and 12 hex
	// digits, equal for equal contents.
	Revision string
	// Files, for a repository whose Revision Load set, are the files it
	// read there (relative, slash-separated) with a digest of each: what
	// changed between two such revisions.
	Files map[string]string `json:"-"`
}

// Options tune loading; the zero value is usable.
type Options struct {
	// Fetcher gets http(s) scripts; nil: HTTPFetcher with http.DefaultClient.
	Fetcher Fetcher
	// FetchTimeout bounds one fetch; 0: 10 s.
	FetchTimeout time.Duration
	// MaxSteps bounds the evaluation of one file; 0: pyeval.DefaultMaxSteps.
	MaxSteps uint64
	// MaxMemory bounds the heap growth while a file is evaluated; 0:
	// pyeval.DefaultMaxMemory.
	MaxMemory uint64
}

// Set is everything loaded from one or more repositories.
type Set struct {
	Clusters []*Cluster
	Suites   []*Suite
	// Failed lists the definitions that did not load, by the name they
	// would have had (the file stem or folder name when unknown).
	Failed      []Failed
	Diagnostics Diagnostics
	// Repos are the repositories loaded, in order, with their revisions.
	Repos []Repo
}

// Failed names a definition that did not load.
type Failed struct {
	Kind string // "cluster" or "suite"
	Name string
	Repo string
	File string
}

// Cluster returns the loaded cluster with the given name, or nil.
func (s *Set) Cluster(name string) *Cluster {
	for _, c := range s.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Suite returns the loaded suite with the given name, or nil.
func (s *Set) Suite(name string) *Suite {
	for _, t := range s.Suites {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// loader holds the state of one Load call.
type loader struct {
	ctx      context.Context
	opts     Options
	set      *Set
	subnets  map[*Cluster]subnet
	broken   map[string]string // cluster name -> file
	clusters map[string]*Cluster
	digests  map[string]hash.Hash         // repository root -> what was read there
	files    map[string]map[string]string // repository root -> file -> its digest
}

// Load reads every repository's clusters, then every suite (suites may use
// clusters of any repository). Nothing here fails as a whole: each problem
// is a diagnostic, and every good definition loads.
func Load(ctx context.Context, repos []Repo, opts Options) *Set {
	if opts.Fetcher == nil {
		opts.Fetcher = HTTPFetcher{}
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = 10 * time.Second
	}
	l := &loader{ctx: ctx, opts: opts, set: &Set{Diagnostics: Diagnostics{}},
		subnets: map[*Cluster]subnet{}, broken: map[string]string{}, clusters: map[string]*Cluster{}, digests: map[string]hash.Hash{}, files: map[string]map[string]string{}}
	for i := range repos {
		r := &repos[i]
		r.Name = cmp.Or(r.Name, filepath.Base(r.Root))
		r.ClusterDir = cmp.Or(r.ClusterDir, "clusters")
		r.SuiteDir = cmp.Or(r.SuiteDir, "test-suites")
		l.digests[r.Root] = sha256.New()
		l.files[r.Root] = map[string]string{}
		l.checkLayout(*r)
		for _, f := range discoverClusters(filepath.Join(r.Root, r.ClusterDir)) {
			l.loadCluster(*r, f)
		}
	}
	for _, r := range repos {
		for _, s := range discoverSuites(filepath.Join(r.Root, r.SuiteDir)) {
			l.loadSuite(r, s.folder, s.file)
		}
	}
	l.setRevisions(repos)
	l.set.Diagnostics.sort()
	return l.set
}

// record adds a file read from the repository at root to its digest.
func (l *loader) record(root, rel string, content []byte) {
	if h := l.digests[root]; h != nil {
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(content))
		h.Write(content)
		sum := sha256.Sum256(content)
		l.files[root][rel] = hex.EncodeToString(sum[:8])
	}
}

// setRevisions gives each repository without a revision the digest of
// what was read from it, and every definition its repository's revision.
func (l *loader) setRevisions(repos []Repo) {
	byRoot := map[string]Repo{}
	for _, r := range repos {
		if r.Revision == "" {
			r.Revision = "sha256:" + hex.EncodeToString(l.digests[r.Root].Sum(nil))[:12]
			r.Files = l.files[r.Root]
		}
		if _, ok := byRoot[r.Root]; !ok {
			byRoot[r.Root] = r
		}
		l.set.Repos = append(l.set.Repos, r)
	}
	for _, c := range l.set.Clusters {
		c.RepoName, c.Revision = byRoot[c.Repo].Name, byRoot[c.Repo].Revision
	}
	for _, s := range l.set.Suites {
		s.RepoName, s.Revision = byRoot[s.Repo].Name, byRoot[s.Repo].Revision
	}
}

// Revision names the revisions of the repositories whose definitions a
// session of suite s runs, the suite's first and then its clusters':
// "NAME@REVISION", comma-separated when several.
func (s *Set) Revision(suite *Suite) string {
	var out []string
	add := func(name, rev string) {
		if v := name + "@" + rev; rev != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	add(suite.RepoName, suite.Revision)
	for _, name := range suite.Clusters {
		if c := s.Cluster(name); c != nil {
			add(c.RepoName, c.Revision)
		}
	}
	return strings.Join(out, ",")
}

func (l *loader) limits() pyeval.Limits {
	return pyeval.Limits{MaxSteps: l.opts.MaxSteps, MaxMemory: l.opts.MaxMemory}
}

func (l *loader) reporter(r Repo, path string) reporter {
	rel, err := filepath.Rel(r.Root, path)
	if err != nil {
		rel = path
	}
	return reporter{repo: r.Root, file: filepath.ToSlash(rel), out: &l.set.Diagnostics}
}

func (l *loader) checkLayout(r Repo) {
	rep := reporter{repo: r.Root, out: &l.set.Diagnostics}
	var missing []string
	for _, d := range []string{r.ClusterDir, r.SuiteDir} {
		if st, err := os.Stat(filepath.Join(r.Root, d)); err != nil || !st.IsDir() {
			missing = append(missing, d)
		}
	}
	switch len(missing) {
	case 1:
		rep.file = filepath.ToSlash(missing[0])
		rep.Warnf(0, "no such folder: this repository has no %s", missing[0])
	case 2:
		rep.file = "."
		rep.Errorf(0, "%s is not a definitions repository: it has neither %s/ nor %s/", r.Root, r.ClusterDir, r.SuiteDir)
	}
}

// discoverClusters lists cluster*.py in dir and cluster*/cluster*.py (the
// 2012 layout), sorted; everything else is ignored.
func discoverClusters(dir string) []string {
	var files []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "cluster") {
			continue
		}
		switch {
		case e.Type().IsRegular() && strings.HasSuffix(name, ".py"):
			files = append(files, filepath.Join(dir, name))
		case e.IsDir():
			sub, _ := os.ReadDir(filepath.Join(dir, name))
			for _, s := range sub {
				if n := s.Name(); s.Type().IsRegular() && strings.HasPrefix(n, "cluster") && strings.HasSuffix(n, ".py") {
					files = append(files, filepath.Join(dir, name, n))
				}
			}
		}
	}
	return files
}

type suiteFile struct{ folder, file string }

// discoverSuites finds S/test_suite.py, else S/S.py (2012), for each
// folder S; folders with neither (helpers such as utils/) are ignored.
func discoverSuites(dir string) []suiteFile {
	var out []suiteFile
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		for _, f := range []string{"test_suite.py", e.Name() + ".py"} {
			p := filepath.Join(dir, e.Name(), f)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				out = append(out, suiteFile{e.Name(), p})
				break
			}
		}
	}
	return out
}

func (l *loader) readDefinition(rep reporter, path string) []byte {
	st, err := os.Stat(path)
	if err == nil && st.Size() > MaxDefinitionBytes {
		err = fmt.Errorf("larger than %d bytes", MaxDefinitionBytes)
	}
	var src []byte
	if err == nil {
		src, err = os.ReadFile(path)
	}
	if err != nil {
		rep.Errorf(0, "cannot read: %v", err)
		return nil
	}
	l.record(rep.repo, rep.file, src)
	return src
}

func (l *loader) loadCluster(r Repo, path string) {
	rep := l.reporter(r, path)
	stem := strings.TrimSuffix(filepath.Base(path), ".py")
	fail := func() {
		l.set.Failed = append(l.set.Failed, Failed{Kind: "cluster", Name: stem, Repo: r.Root, File: rep.file})
		if _, ok := l.broken[stem]; !ok && l.clusters[stem] == nil {
			l.broken[stem] = rep.file
		}
	}
	src := l.readDefinition(rep, path)
	if src == nil {
		fail()
		return
	}
	root := pyeval.Evaluate(rep.file, src, "getCluster", pyeval.ClusterClass, l.limits(), rep)
	if root == nil {
		fail()
		return
	}
	cl, sub := convertCluster(rep, root, stem)
	if cl == nil || !l.checkAgainstOthers(rep, cl, sub) {
		fail()
		return
	}
	l.set.Clusters = append(l.set.Clusters, cl)
	l.clusters[cl.Name] = cl
	l.subnets[cl] = sub
	delete(l.broken, cl.Name)
}

// checkAgainstOthers rejects a cluster whose name, network name, bridge or
// gateway is already taken by a loaded cluster, naming both files; an
// overlapping subnet is only a warning (the networks are isolated).
func (l *loader) checkAgainstOthers(rep reporter, cl *Cluster, sub subnet) bool {
	ok := true
	for _, o := range l.set.Clusters {
		where := o.File
		if o.Repo != cl.Repo {
			where = filepath.Join(o.Repo, o.File)
		}
		clash := func(what, v string) {
			rep.Errorf(0, "%s %q is already used by cluster %q in %s", what, v, o.Name, where)
			ok = false
		}
		switch {
		case o.Name == cl.Name:
			clash("cluster name", cl.Name)
			continue
		case o.Network.Name == cl.Network.Name:
			clash("network name", cl.Network.Name)
		case o.Network.BridgeName == cl.Network.BridgeName:
			clash("bridge name", cl.Network.BridgeName)
		case o.Network.IP == cl.Network.IP:
			clash("network ip", cl.Network.IP)
		case sub.valid && l.subnets[o].valid && sub.overlaps(l.subnets[o]):
			rep.Warnf(0, "network %s/%s overlaps network %s/%s of cluster %q in %s", cl.Network.IP, cl.Network.Netmask, o.Network.IP, o.Network.Netmask, o.Name, where)
		}
	}
	return ok
}

func (l *loader) loadSuite(r Repo, folder, path string) {
	rep := l.reporter(r, path)
	fail := func(name string) {
		l.set.Failed = append(l.set.Failed, Failed{Kind: "suite", Name: name, Repo: r.Root, File: rep.file})
	}
	src := l.readDefinition(rep, path)
	if src == nil {
		fail(folder)
		return
	}
	root := pyeval.Evaluate(rep.file, src, "getTestSuite", pyeval.SuiteClass, l.limits(), rep)
	if root == nil {
		fail(folder)
		return
	}
	dir := filepath.Dir(path)
	dirRel, _ := filepath.Rel(r.Root, dir)
	env := suiteEnv{
		scripts: scriptEnv{ctx: l.ctx, root: r.Root, dir: dir, fetch: l.opts.Fetcher, timeout: l.opts.FetchTimeout,
			record: func(rel, text string) { l.record(r.Root, rel, []byte(text)) }},
		folder:   folder,
		dirRel:   filepath.ToSlash(dirRel),
		clusters: l.clusters,
		broken:   l.broken,
	}
	s := convertSuite(rep, root, env)
	if s == nil {
		fail(cmp.Or(root.GetString("name"), folder))
		return
	}
	if i := slices.IndexFunc(l.set.Suites, func(o *Suite) bool { return o.Name == s.Name }); i >= 0 {
		o := l.set.Suites[i]
		rep.Errorf(root.LineOf("name"), "test suite name %q is already used by %s", s.Name, filepath.Join(o.Repo, o.File))
		fail(s.Name)
		return
	}
	l.set.Suites = append(l.set.Suites, s)
}
