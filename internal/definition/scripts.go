package definition

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MaxScriptBytes bounds a stage script, read or fetched.
const MaxScriptBytes = 16 << 20

// Fetcher fetches http(s) scripts named by a suite's initialize/finalize.
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}

// HTTPFetcher fetches with net/http; the context carries the timeout.
type HTTPFetcher struct {
	Client *http.Client // nil: http.DefaultClient
}

// Fetch gets url, refusing non-200 answers and bodies over MaxScriptBytes.
func (f HTTPFetcher) Fetch(ctx context.Context, url string) ([]byte, error) {
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxScriptBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxScriptBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxScriptBytes)
	}
	return b, nil
}

// errOutsideRepo is returned for a path that leaves the repository.
var errOutsideRepo = errors.New("outside the repository")

// errInGit is returned for a path into a .git folder: git's files (config
// with remote URLs and their credentials, hooks) are no scripts, and a
// script is shown on the pages and sent to the slaves.
var errInGit = errors.New("inside a .git folder, which scripts may not read")

// readRepoFile reads a file that must lie inside root's working tree,
// outside any .git folder, symbolic links resolved. It returns the path
// relative to root, slash-separated.
func readRepoFile(root, path string) (rel, text string, err error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", "", err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
		real = filepath.Clean(path) // report a missing file, if it would be inside
	}
	r, err := filepath.Rel(realRoot, real)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", "", errOutsideRepo
	}
	// Check the name as written too: a .git that is itself a link (git
	// worktrees, submodules) is no less git's.
	lexical, lerr := filepath.Rel(root, filepath.Clean(path))
	if inGit(r) || (lerr == nil && inGit(lexical)) {
		return "", "", errInGit
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", "", err
	}
	if !st.Mode().IsRegular() {
		return "", "", fmt.Errorf("not a regular file")
	}
	if st.Size() > MaxScriptBytes {
		return "", "", fmt.Errorf("larger than %d bytes", MaxScriptBytes)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return "", "", err
	}
	// Name the file as the definition did, relative to the (unresolved) root.
	if lerr == nil && !strings.HasPrefix(lexical, "..") {
		r = lexical
	}
	return filepath.ToSlash(r), string(b), nil
}

// scriptEnv is what resolving a suite's script references needs.
type scriptEnv struct {
	ctx     context.Context
	root    string // repository root
	dir     string // folder of the definition file
	fetch   Fetcher
	timeout time.Duration
	// record notes a file read from the repository (its revision digest).
	record func(rel, text string)
}

// read reads a script file of the repository, whole: a session runs what
// was read at load time, whatever happens to the file later.
func (env scriptEnv) read(path string) (rel, text string, err error) {
	rel, text, err = readRepoFile(env.root, path)
	if err == nil && env.record != nil {
		env.record(rel, text)
	}
	return rel, text, err
}

// resolveScript turns an initialize/finalize value into a script: inline
// text starting with #!, file:///abs, file://relative (to the definition's
// folder) or http(s)://. The empty string means no script.
func (env scriptEnv) resolve(value string) (*Script, error) {
	t := strings.TrimLeft(value, " \t\r\n")
	switch {
	case t == "":
		return nil, nil
	case strings.HasPrefix(t, "#!"):
		return &Script{Text: t}, nil
	case strings.HasPrefix(t, "file://"):
		p := strings.TrimSpace(strings.TrimPrefix(t, "file://"))
		if !filepath.IsAbs(p) {
			p = filepath.Join(env.dir, p)
		}
		rel, text, err := env.read(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", strings.TrimSpace(t), err)
		}
		return &Script{Path: rel, Text: text}, nil
	case strings.HasPrefix(t, "http://"), strings.HasPrefix(t, "https://"):
		url := strings.TrimSpace(t)
		ctx, cancel := context.WithTimeout(env.ctx, env.timeout)
		defer cancel()
		b, err := env.fetch.Fetch(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("cannot fetch %s: %w", url, err)
		}
		return &Script{Path: url, Text: string(b)}, nil
	default:
		first, _, _ := strings.Cut(t, "\n")
		return nil, fmt.Errorf("%q is not a script: want file://PATH, file:///ABSOLUTE/PATH, http(s)://URL or an inline script starting with #!", first)
	}
}

// inGit reports whether a path relative to a repository's root has a .git
// component.
func inGit(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == ".git" {
			return true
		}
	}
	return false
}
