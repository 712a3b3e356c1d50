package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	var mu sync.Mutex
	dirs := map[*testing.T]string{}
	storetest.Run(t, func(t *testing.T) store.Store {
		mu.Lock()
		dir, ok := dirs[t]
		if !ok {
			dir = filepath.Join(t.TempDir(), "store")
			dirs[t] = dir
		}
		mu.Unlock()
		s, err := store.OpenSQLite(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func openAt(t testing.TB, dir string) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPathsStayInside writes outputs and logs under hostile names with the
// store deep inside a scratch directory, and checks that every file landed
// inside the store, at the expected depth.
func TestPathsStayInside(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "store")
	s := openAt(t, dir)
	ctx := context.Background()
	se := &store.Session{Suite: "s"}
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	evil := []string{"../../x", "..", ".", "/", "a/../../b", "/../../etc/passwd", "../../../../../../../../../x",
		"..\\..\\x", "x\x00y", "~", "%2e%2e", strings.Repeat("../", 100) + "x"}
	for _, slave := range evil {
		w, err := s.OutputWriter(se.ID, 0, slave)
		if err != nil {
			t.Fatalf("OutputWriter(%q): %v", slave, err)
		}
		w.Append(1, []byte("x"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, path := range evil {
			w, err := s.LogWriter(se.ID, slave, path)
			if err != nil {
				t.Fatalf("LogWriter(%q, %q): %v", slave, path, err)
			}
			w.Write([]byte("x"))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var outputs, logs int
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("file outside the store: %s", p)
			return nil
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		switch {
		case parts[0] == "outputs" && len(parts) == 4 && parts[1] == fmt.Sprint(se.ID) && parts[2] == "0":
			outputs++
		case parts[0] == "logs" && len(parts) == 4 && parts[1] == fmt.Sprint(se.ID):
			logs++
		case len(parts) == 1 && strings.HasPrefix(parts[0], "history.db"):
		default:
			t.Errorf("unexpected file %s", rel)
		}
		if len(filepath.Base(p)) > 255 {
			t.Errorf("file name too long: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if outputs != len(evil) || logs != len(evil)*len(evil) {
		t.Errorf("%d outputs, %d logs; want %d, %d", outputs, logs, len(evil), len(evil)*len(evil))
	}
	// Private: the directory tree is 0700, the files 0600.
	for _, p := range []string{dir, filepath.Join(dir, "outputs"), filepath.Join(dir, "logs", fmt.Sprint(se.ID))} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v", p, fi.Mode(), err)
		}
	}
}

// TestReadableNames checks that host names are used as they are.
func TestReadableNames(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	w, err := s.OutputWriter(3, 2, "a.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(filepath.Join(dir, "outputs", "3", "2", "a.xrd.test.out")); err != nil {
		t.Error(err)
	}
	// A stage that printed nothing leaves no file.
	w, err = s.OutputWriter(3, 3, "a.xrd.test")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(filepath.Join(dir, "outputs", "3", "3", "a.xrd.test.out")); !os.IsNotExist(err) {
		t.Errorf("empty output: %v", err)
	}
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Opening again does not migrate again.
	s, err = store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := sql.Open("sqlite", filepath.Join(dir, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v, n int
	if err := db.QueryRow(`SELECT version, (SELECT count(*) FROM schema_version) FROM schema_version`).Scan(&v, &n); err != nil {
		t.Fatal(err)
	}
	if v != 2 || n != 1 {
		t.Errorf("schema_version: version %d in %d rows, want 2 in 1", v, n)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	for _, idx := range []string{"sessions_suite_created", "sessions_state_created", "sessions_created", "sessions_created_stats"} {
		var name string
		if err := db.QueryRow(`SELECT name FROM sqlite_schema WHERE type = 'index' AND name = ?`, idx).Scan(&name); err != nil {
			t.Errorf("index %s: %v", idx, err)
		}
	}
	// A database from a newer program is refused.
	if _, err := db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if s, err := store.OpenSQLite(context.Background(), dir); err == nil {
		s.Close()
		t.Error("OpenSQLite opened a database of schema version 99")
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := openAt(t, dir)
	_ = s
	for _, p := range []string{dir, filepath.Join(dir, "outputs"), filepath.Join(dir, "logs")} {
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "history.db")); err != nil {
		t.Error(err)
	}
}

// TestOddDirName: the directory name is escaped in the SQLite URI.
func TestOddDirName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a ?b#c%20d&_txlock=x")
	s := openAt(t, dir)
	if err := s.CreateSession(context.Background(), &store.Session{Suite: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "history.db")); err != nil {
		t.Error(err)
	}
}

// BenchmarkSessions100k fills a store with 100k sessions (in batches, one
// transaction each) and measures filtered page queries (page and total).
// It reports figures only.
func BenchmarkSessions100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	s := openAt(b, b.TempDir())
	suites := 50
	states := []store.SessionState{store.SessionPassed, store.SessionPassed, store.SessionPassed,
		store.SessionFailed, store.SessionCancelled, store.SessionInterrupted}
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	const batch = 10_000
	for i := 0; i < n; i += batch {
		ss := make([]*store.Session, 0, batch)
		for j := i; j < i+batch; j++ {
			ss = append(ss, &store.Session{
				Suite:        fmt.Sprintf("suite-%02d", j%suites),
				State:        states[j*7%len(states)],
				Reason:       "slaves not connected after 5m0s: a.xrd.test",
				Machines:     []string{"a.xrd.test", "b.xrd.test", "c.xrd.test"},
				Cases:        []string{"basic", "stress"},
				RepoRevision: "3e44039",
				TriggeredBy:  "schedule",
				Created:      t0.Add(time.Duration(j) * 17 * time.Minute),
				Started:      t0.Add(time.Duration(j)*17*time.Minute + time.Second),
				Ended:        t0.Add(time.Duration(j)*17*time.Minute + time.Hour),
			})
		}
		if err := s.CreateSessions(ctx, ss); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(start)
	// Printed, not logged: b.Logf of a benchmark with sub-benchmarks only
	// shows with -v.
	fmt.Printf("BenchmarkSessions100k: inserted %d sessions in %d batches in %v (%.0f sessions/s)\n",
		n, n/batch, d.Round(time.Millisecond), n/d.Seconds())

	mid := t0.Add(n / 2 * 17 * time.Minute)
	for _, bc := range []struct {
		name string
		f    store.Filter
	}{
		{"all", store.Filter{Limit: 50}},
		{"all-offset-50k", store.Filter{Limit: 50, Offset: 50_000}},
		{"suite", store.Filter{Suite: "suite-07", Limit: 50, Offset: 100}},
		{"state", store.Filter{States: []store.SessionState{store.SessionFailed}, Limit: 50}},
		{"states", store.Filter{States: []store.SessionState{store.SessionFailed, store.SessionInterrupted}, Limit: 50}},
		{"suite-state-range", store.Filter{Suite: "suite-07", States: []store.SessionState{store.SessionFailed},
			From: mid.Add(-365 * 24 * time.Hour), To: mid, Limit: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var got []*store.Session
			var total int
			for b.Loop() {
				var err error
				got, total, err = s.Sessions(ctx, bc.f)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(got)), "rows")
			b.ReportMetric(float64(total), "total")
		})
	}
}
