package catalog

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/definition"
)

// A localfs repository's revision is a digest of the files read there, so
// it alone cannot say which files changed between two sessions. The
// catalog keeps, for each such revision it loads, the list of those files
// with a digest of each: a manifest, one small JSON file under
// Config.ManifestDir/<repo>/<revision>.json, kept across restarts, the
// newest MaxManifests per repository.

// MaxManifests bounds the manifests kept per repository: the oldest go
// first (a reload that changes nothing writes none).
const MaxManifests = 2000

// manifestPath is where the manifest of a repository's revision is kept;
// "" when the names could escape the folder.
func (c *Catalog) manifestPath(repo, revision string) string {
	if c.cfg.ManifestDir == "" || !safeName(repo) || !safeName(revision) {
		return ""
	}
	return filepath.Join(c.cfg.ManifestDir, repo, revision+".json")
}

func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

// saveManifests writes the manifests of the localfs repositories of set
// that have none yet. A manifest that cannot be written is logged: only
// the detail of later comparisons is lost.
func (c *Catalog) saveManifests(set *definition.Set) {
	for _, r := range set.Repos {
		path := c.manifestPath(r.Name, r.Revision)
		if r.Files == nil || path == "" {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := writeManifest(path, r.Files); err != nil {
			c.cfg.Log.Warn("cannot keep the file list of a definitions revision", "repo", r.Name, "revision", r.Revision, "err", err)
			continue
		}
		pruneManifests(filepath.Dir(path), MaxManifests)
	}
}

func writeManifest(path string, files map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(files)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".manifest-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// pruneManifests removes the oldest manifests of dir beyond keep.
func pruneManifests(dir string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= keep {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".json") {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.mod, b.mod) })
	for _, a := range all[:max(len(all)-keep, 0)] {
		os.Remove(filepath.Join(dir, a.name))
	}
}

// readManifest reads the manifest of a repository's revision; nil, nil
// when it was not kept.
func (c *Catalog) readManifest(repo, revision string) (map[string]string, error) {
	path := c.manifestPath(repo, revision)
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var files map[string]string
	if err := json.Unmarshal(b, &files); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return files, nil
}

// fileChanges compares two manifests over the files under paths (a
// folder or a file, slash-separated, relative to the repository), in path
// order.
func fileChanges(before, after map[string]string, paths []string) []api.FileChange {
	under := func(f string) bool {
		return slices.ContainsFunc(paths, func(p string) bool { return f == p || strings.HasPrefix(f, p+"/") })
	}
	var out []api.FileChange
	for f, d := range after {
		switch old, ok := before[f]; {
		case !under(f):
		case !ok:
			out = append(out, api.FileChange{Path: f, Change: "added"})
		case old != d:
			out = append(out, api.FileChange{Path: f, Change: "modified"})
		}
	}
	for f := range before {
		if _, ok := after[f]; !ok && under(f) {
			out = append(out, api.FileChange{Path: f, Change: "removed"})
		}
	}
	slices.SortFunc(out, func(a, b api.FileChange) int { return strings.Compare(a.Path, b.Path) })
	return out
}
