package slave

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/slave/runner"
)

// workTree makes WorkDir/session-N for each N, last used age ago (the
// directory's and its script folder's times), and returns WorkDir.
func workTree(t *testing.T, now time.Time, ages map[int64]time.Duration) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "work")
	for id, age := range ages {
		p := filepath.Join(dir, workDirPrefix+itoa(id))
		if err := os.MkdirAll(filepath.Join(p, runner.ScriptDir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "data"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{filepath.Join(p, runner.ScriptDir), p} {
			if err := os.Chtimes(q, now.Add(-age), now.Add(-age)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func remaining(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func TestPruneWorkDirs(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	for _, tc := range []struct {
		name    string
		r       WorkRetention
		busy    []int64 // stages running
		recent  []int64 // ran a stage an hour ago
		removed []int64
		left    []string
	}{
		{"no limits", WorkRetention{}, nil, nil, nil,
			[]string{"notes", "other", "session-1", "session-2", "session-3", "session-4", "session-5", "session-7", "session-x"}},
		{"age", WorkRetention{MaxAge: 7 * day}, nil, nil, []int64{1, 2},
			[]string{"notes", "other", "session-3", "session-4", "session-5", "session-7", "session-x"}},
		{"age, in use", WorkRetention{MaxAge: 7 * day}, []int64{1}, []int64{2}, nil,
			[]string{"notes", "other", "session-1", "session-2", "session-3", "session-4", "session-5", "session-7", "session-x"}},
		{"count", WorkRetention{MaxDirs: 2}, nil, nil, []int64{3, 1, 2},
			[]string{"notes", "other", "session-4", "session-5", "session-7", "session-x"}},
		{"count, in use", WorkRetention{MaxDirs: 2}, []int64{3}, nil, []int64{1, 2},
			[]string{"notes", "other", "session-3", "session-4", "session-5", "session-7", "session-x"}},
		{"both", WorkRetention{MaxAge: 20 * day, MaxDirs: 3}, nil, nil, []int64{1, 2},
			[]string{"notes", "other", "session-3", "session-4", "session-5", "session-7", "session-x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Most recently used: 5 (its script folder), 4, 3, 1, 2.
			dir := workTree(t, now, map[int64]time.Duration{1: 10 * day, 2: 30 * day, 3: 2 * day, 4: time.Hour, 5: 40 * day})
			os.Chtimes(filepath.Join(dir, "session-5", runner.ScriptDir), now.Add(-time.Minute), now.Add(-time.Minute))
			// Not work directories: left alone, whatever their age.
			outside := t.TempDir()
			os.Symlink(outside, filepath.Join(dir, "session-7"))
			os.MkdirAll(filepath.Join(dir, "other"), 0o755)
			os.MkdirAll(filepath.Join(dir, "session-x"), 0o755)
			os.WriteFile(filepath.Join(dir, "notes"), nil, 0o644)
			for _, p := range []string{"other", "session-x", "notes"} {
				os.Chtimes(filepath.Join(dir, p), now.Add(-100*day), now.Add(-100*day))
			}

			a := &Agent{cfg: Config{WorkDir: dir, WorkRetention: tc.r}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			for _, id := range tc.busy {
				a.useWorkDir(id, 1)
				a.usedDirs[id] = now.Add(-60 * day) // the stage started long ago
			}
			for _, id := range tc.recent {
				a.useWorkDir(id, 1)
				a.useWorkDir(id, -1)
				a.usedDirs[id] = now.Add(-time.Hour)
			}
			removed, err := a.pruneWorkDirs(now)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(removed, tc.removed) {
				t.Errorf("removed %v, want %v", removed, tc.removed)
			}
			if got := remaining(t, dir); !slices.Equal(got, tc.left) {
				t.Errorf("left %v, want %v", got, tc.left)
			}
			if _, err := os.Stat(outside); err != nil {
				t.Errorf("the target of a symbolic link: %v", err)
			}
		})
	}
}

func TestPruneWorkDirsMissing(t *testing.T) {
	a := &Agent{cfg: Config{WorkDir: filepath.Join(t.TempDir(), "none"), WorkRetention: WorkRetention{MaxDirs: 1}}}
	if removed, err := a.pruneWorkDirs(time.Now()); err != nil || len(removed) != 0 {
		t.Errorf("pruneWorkDirs(missing dir) = %v, %v", removed, err)
	}
}
