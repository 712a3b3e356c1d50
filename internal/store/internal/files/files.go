// Package files keeps the outputs/ and logs/ trees of a store directory,
// the same whatever database holds the metadata: every implementation of
// store.Store embeds [Files] for the Store's methods on files, and uses the
// functions of this package for the rest (logs it records in its database,
// the files of pruned sessions, the numbering of new sessions).
//
// Every path component derived from user data (slave names, log paths) is
// escaped by a reversible, injective percent encoding, so that nothing can
// escape the directory and two different names never share a file.
package files

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/xrdtest/xrdtest/internal/store"
)

// Files is the outputs/ and logs/ trees of a store directory. Its methods
// are the Store's methods on files; the rest are functions, so that an
// implementation embedding Files gains no other exported method.
type Files struct{ dir string }

// Open makes dir absolute and creates it and its trees (mode 0700) when
// missing.
func Open(dir string) (Files, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Files{}, fmt.Errorf("store: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "outputs"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return Files{}, fmt.Errorf("store: %w", err)
		}
	}
	return Files{dir: dir}, nil
}

// Dir returns the directory of the store.
func (f Files) Dir() string { return f.dir }

// OutputWriter implements store.Store.
func (f Files) OutputWriter(session int64, stage int, slave string) (store.OutputWriter, error) {
	p, err := outputPath(f.dir, session, stage, slave)
	if err != nil {
		return nil, err
	}
	w, err := createOutput(p)
	if err != nil {
		return nil, err // not a nil *outputWriter in a non-nil OutputWriter
	}
	return w, nil
}

// OpenOutput implements store.Store.
func (f Files) OpenOutput(session int64, stage int, slave string) (io.ReadSeekCloser, error) {
	p, err := outputPath(f.dir, session, stage, slave)
	if err != nil {
		return nil, err
	}
	return openFile(p)
}

// OpenLog implements store.Store.
func (f Files) OpenLog(session int64, slave, path string) (io.ReadSeekCloser, error) {
	p, _, err := logPath(f.dir, session, slave, path)
	if err != nil {
		return nil, err
	}
	return openFile(p)
}

// CreateLog is the Store's LogWriter without the database: record(file)
// records the log as incomplete (it fails, with ErrNotFound, for an
// unknown session, before any file is created) and the writer's Close
// calls done(size) to record it complete. An existing file is truncated:
// a log written again replaces the previous copy.
func CreateLog(f Files, session int64, slave, path string, record func(file string) error,
	done func(size int64) error) (io.WriteCloser, error) {
	full, file, err := logPath(f.dir, session, slave, path)
	if err != nil {
		return nil, err
	}
	if err := record(file); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(full), dirPerm); err != nil {
		return nil, fmt.Errorf("store: log: %w", err)
	}
	fh, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return nil, fmt.Errorf("store: log: %w", err)
	}
	return &logWriter{path: full, f: fh, bw: bufio.NewWriterSize(fh, bufSize), done: done}, nil
}

// LogSize returns the size of a log's file now (for a log still being
// written), or recorded when the file cannot be read.
func LogSize(f Files, session int64, l store.LogFile, recorded int64) int64 {
	if p, _, err := logPath(f.dir, session, l.Slave, l.Path); err == nil {
		if fi, err := os.Stat(p); err == nil {
			return fi.Size()
		}
	}
	return recorded
}

// RemoveSession deletes the outputs and logs of a session. Missing ones
// are no error.
func RemoveSession(f Files, session int64) error {
	if err := checkSession(session); err != nil {
		return err
	}
	id := strconv.FormatInt(session, 10)
	for _, d := range []string{filepath.Join(f.dir, "outputs", id), filepath.Join(f.dir, "logs", id)} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// MaxSession returns the highest session number that has outputs or logs
// (0 when none). A database opened on the files of another one (a switch
// from SQLite to PostgreSQL, a lost history.db) must number its sessions
// above it, or new sessions would meet old files: refused outputs, logs
// overwritten.
func MaxSession(f Files) (int64, error) {
	ids, err := Sessions(f)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return ids[len(ids)-1], nil
}

// Sessions returns the sessions that have outputs or logs, in increasing
// order.
func Sessions(f Files) ([]int64, error) {
	seen := map[int64]bool{}
	for _, tree := range []string{"outputs", "logs"} {
		d, err := os.Open(filepath.Join(f.dir, tree))
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		for _, n := range names {
			if id, err := strconv.ParseInt(n, 10, 64); err == nil && id > 0 {
				seen[id] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
