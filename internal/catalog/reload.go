package catalog

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// keepLastGood carries over, from the previous definitions, the clusters
// and suites that failed to load now: a broken edit never takes a working
// suite away (running sessions use the snapshot they started with anyway).
// Each carried definition is noted as a warning next to its errors.
func keepLastGood(prev, set *definition.Set) {
	if prev == nil {
		return
	}
	var clashes [][2]*definition.Suite // {kept, refused}
	for _, f := range set.Failed {
		note := func(file string) {
			set.Diagnostics = append(set.Diagnostics, definition.Diagnostic{Severity: definition.Warning, Repo: f.Repo, File: file,
				Message: fmt.Sprintf("%s %s did not load: the last good definition is kept", f.Kind, f.Name)})
		}
		switch f.Kind {
		case "cluster":
			if cl := prev.Cluster(f.Name); cl != nil && set.Cluster(f.Name) == nil {
				set.Clusters = append(set.Clusters, cl)
				note(f.File)
			}
		case "suite":
			old := prev.Suite(f.Name)
			switch cur := set.Suite(f.Name); {
			case old == nil:
			case cur == nil:
				set.Suites = append(set.Suites, old)
				note(f.File)
			case old.Repo == f.Repo && old.File == f.File && (cur.Repo != old.Repo || cur.File != old.File):
				clashes = append(clashes, [2]*definition.Suite{old, cur})
			}
		}
	}
	for _, cl := range clashes {
		keepAgainstClash(set, cl[0], cl[1])
	}
}

// keepAgainstClash keeps the suite old, which was loaded, when another
// file (cur's, loaded first now) takes its name: a file added to another
// repository must not take a working suite's place, schedule and enable
// state. cur's file is what is refused instead.
func keepAgainstClash(set *definition.Set, old, cur *definition.Suite) {
	for i, s := range set.Suites {
		if s == cur {
			set.Suites[i] = old
		}
	}
	oldPath, curPath := filepath.Join(old.Repo, old.File), filepath.Join(cur.Repo, cur.File)
	// The loader blamed old's file for the clash; it is cur's now.
	set.Diagnostics = slices.DeleteFunc(set.Diagnostics, func(d definition.Diagnostic) bool {
		return d.Severity == definition.Error && d.Repo == old.Repo && d.File == old.File && strings.Contains(d.Message, "is already used by "+curPath)
	})
	set.Diagnostics = append(set.Diagnostics, definition.Diagnostic{Severity: definition.Error, Repo: cur.Repo, File: cur.File,
		Message: fmt.Sprintf("test suite name %q is already used by %s, which was loaded before: this file is not loaded", cur.Name, oldPath)})
	set.Failed = slices.DeleteFunc(set.Failed, func(f definition.Failed) bool {
		return f.Kind == "suite" && f.Name == old.Name && f.Repo == old.Repo && f.File == old.File
	})
	set.Failed = append(set.Failed, definition.Failed{Kind: "suite", Name: cur.Name, Repo: cur.Repo, File: cur.File})
}

// watch reloads the definitions when files of the localfs repositories
// change, once per burst of changes (an editor writes several times per
// save). Git checkouts change only when the master syncs them.
func (c *Catalog) watch(ctx context.Context, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	addTree := func(root string) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				if err := w.Add(p); err != nil {
					c.cfg.Log.Warn("cannot watch a definitions folder", "dir", p, "err", err)
				}
			}
			return nil
		})
	}
	for _, r := range c.localRepos() {
		addTree(r.Root)
	}
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					addTree(ev.Name)
				}
			}
			timer = time.After(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			c.cfg.Log.Warn("watching the definitions", "err", err)
		case <-timer:
			timer = nil
			c.cfg.Log.Info("definitions changed on disk: reloading")
			c.reload(ctx, func(string) bool { return false }, true) // no git fetch
		}
	}
}
