package master

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	for _, f := range set.Failed {
		note := func(file string) {
			set.Diagnostics = append(set.Diagnostics, definition.Diagnostic{Severity: definition.Warning, Repo: f.Repo, File: file,
				Message: fmt.Sprintf("%s %s did not load: the last good definition is kept", f.Kind, f.Name)})
		}
		switch f.Kind {
		case "cluster":
			if c := prev.Cluster(f.Name); c != nil && set.Cluster(f.Name) == nil {
				set.Clusters = append(set.Clusters, c)
				note(f.File)
			}
		case "suite":
			if s := prev.Suite(f.Name); s != nil && set.Suite(f.Name) == nil {
				set.Suites = append(set.Suites, s)
				note(f.File)
			}
		}
	}
}

// watch reloads the definitions when files of the localfs repositories
// change, once per burst of changes (an editor writes several times per
// save). Git checkouts change only when the master syncs them.
func (m *Master) watch(ctx context.Context, debounce time.Duration) error {
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
					m.opts.Log.Warn("cannot watch a definitions folder", "dir", p, "err", err)
				}
			}
			return nil
		})
	}
	for _, r := range m.localRepos() {
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
			m.opts.Log.Warn("watching the definitions", "err", err)
		case <-timer:
			timer = nil
			m.opts.Log.Info("definitions changed on disk: reloading")
			m.reload(ctx, func(string) bool { return false }, true) // no git fetch
		}
	}
}
