package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
	"github.com/xrdtest/xrdtest/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	dir := storetest.Places(func(t *testing.T) string { return filepath.Join(t.TempDir(), "store") })
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), dir(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestPathsStayInside writes outputs and logs under hostile names with the
// store deep inside a scratch directory, and checks that every file landed
// inside the store, at the expected depth.
func TestPathsStayInside(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "store")
	s := sqlitetest.Open(t, dir)
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
	s := sqlitetest.Open(t, dir)
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
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Opening again does not migrate again.
	s, err = sqlite.Open(context.Background(), dir)
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
	if v != 5 || n != 1 {
		t.Errorf("schema_version: version %d in %d rows, want 5 in 1", v, n)
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
	if s, err := sqlite.Open(context.Background(), dir); err == nil {
		s.Close()
		t.Error("Open opened a database of schema version 99")
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := sqlitetest.Open(t, dir)
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
	s := sqlitetest.Open(t, dir)
	if err := s.CreateSession(context.Background(), &store.Session{Suite: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "history.db")); err != nil {
		t.Error(err)
	}
}

// BenchmarkSessions100k: see storetest.BenchSessions100k.
func BenchmarkSessions100k(b *testing.B) {
	storetest.BenchSessions100k(b, sqlitetest.Open(b, b.TempDir()))
}
