package slave

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/slave/runner"
)

// WorkRetention limits the session work directories (WorkDir/session-N) a
// slave keeps; the zero value keeps them all. The directory of a session in
// use is never deleted: one with a stage running or held, or that ran a
// stage in this process less than recentUse ago (the next stage of a
// session in lock-step may come long after the last one).
type WorkRetention struct {
	MaxAge   time.Duration // directories unused for longer are deleted (0: no limit)
	MaxDirs  int           // only the MaxDirs most recently used are kept (0: no limit)
	Interval time.Duration // between prunings, the first at start (0: hourly)
}

func (r WorkRetention) limited() bool { return r.MaxAge > 0 || r.MaxDirs > 0 }

// recentUse protects the directory of a session that ran a stage lately.
const recentUse = 24 * time.Hour

const workDirPrefix = "session-"

// workDir returns the work directory of a session.
func (a *Agent) workDir(session int64) string {
	return filepath.Join(a.cfg.WorkDir, workDirPrefix+strconv.FormatInt(session, 10))
}

// useWorkDir records that a stage of session starts (delta 1) or ends (-1).
// Starting waits while the pruner deletes that session's directory.
func (a *Agent) useWorkDir(session int64, delta int) {
	a.dirsMu.Lock()
	defer a.dirsMu.Unlock()
	if a.busyDirs == nil {
		a.busyDirs, a.usedDirs = map[int64]int{}, map[int64]time.Time{}
	}
	a.busyDirs[session] += delta
	if a.busyDirs[session] <= 0 {
		delete(a.busyDirs, session)
	}
	a.usedDirs[session] = time.Now()
}

// runWorkRetention prunes the work directories at start and then every
// interval, until ctx ends.
func (a *Agent) runWorkRetention(ctx context.Context) {
	r := a.cfg.WorkRetention
	if !r.limited() {
		return
	}
	tick := time.NewTicker(cmp.Or(r.Interval, time.Hour))
	defer tick.Stop()
	for {
		removed, err := a.pruneWorkDirs(time.Now())
		if len(removed) > 0 {
			a.log.Info("old session work directories deleted", "dir", a.cfg.WorkDir, "sessions", removed)
		}
		if err != nil {
			a.log.Warn("deleting old session work directories", "err", err)
		}
		a.log.Debug("session work directories checked", "deleted", len(removed))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pruneWorkDirs deletes the work directories the retention limits no
// longer keep and returns their sessions.
func (a *Agent) pruneWorkDirs(now time.Time) ([]int64, error) {
	r := a.cfg.WorkRetention
	dirs, err := listWorkDirs(a.cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	var removed []int64
	var errs []error
	for i, d := range dirs {
		if !(r.MaxAge > 0 && now.Sub(d.used) > r.MaxAge) && !(r.MaxDirs > 0 && i >= r.MaxDirs) {
			continue
		}
		// Checked and deleted under the lock a starting stage takes.
		a.dirsMu.Lock()
		inUse := a.busyDirs[d.session] > 0 || now.Sub(a.usedDirs[d.session]) < recentUse
		if !inUse {
			if err := os.RemoveAll(d.path); err != nil {
				errs = append(errs, err)
			} else {
				removed = append(removed, d.session)
			}
		}
		a.dirsMu.Unlock()
	}
	return removed, errors.Join(errs...)
}

type workDirInfo struct {
	session int64
	path    string
	used    time.Time // last modification of the directory or of its script folder
}

// listWorkDirs returns the session work directories under dir, most
// recently used first. Anything else, symbolic links included, is left
// alone.
func listWorkDirs(dir string) ([]workDirInfo, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	var out []workDirInfo
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), workDirPrefix)
		id, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || id <= 0 || strconv.FormatInt(id, 10) != num || !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			continue
		}
		used := fi.ModTime()
		// Scripts are written to and removed from runner.ScriptDir at every
		// stage, whatever the scripts do with the directory itself.
		if si, err := os.Lstat(filepath.Join(p, runner.ScriptDir)); err == nil && si.ModTime().After(used) {
			used = si.ModTime()
		}
		out = append(out, workDirInfo{session: id, path: p, used: used})
	}
	slices.SortFunc(out, func(a, b workDirInfo) int {
		if c := b.used.Compare(a.used); c != 0 {
			return c
		}
		return cmp.Compare(b.session, a.session)
	})
	return out, nil
}
