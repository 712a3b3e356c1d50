package store

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// files is the outputs/ and logs/ trees of a store directory. They are the
// same whatever database holds the metadata: [SQLite] and [Postgres] embed
// it.
type files struct{ dir string }

// openFiles makes dir absolute and creates it and its trees (mode 0700)
// when missing.
func openFiles(dir string) (files, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return files{}, fmt.Errorf("store: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "outputs"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return files{}, fmt.Errorf("store: %w", err)
		}
	}
	return files{dir: dir}, nil
}

// Dir returns the directory of the store.
func (f files) Dir() string { return f.dir }

// OutputWriter implements Store.
func (f files) OutputWriter(session int64, stage int, slave string) (OutputWriter, error) {
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

// OpenOutput implements Store.
func (f files) OpenOutput(session int64, stage int, slave string) (io.ReadSeekCloser, error) {
	p, err := outputPath(f.dir, session, stage, slave)
	if err != nil {
		return nil, err
	}
	return openFile(p)
}

// OpenLog implements Store.
func (f files) OpenLog(session int64, slave, path string) (io.ReadSeekCloser, error) {
	p, _, err := logPath(f.dir, session, slave, path)
	if err != nil {
		return nil, err
	}
	return openFile(p)
}

// createLog is LogWriter without the database: record(file) records the
// log as incomplete (it fails, with ErrNotFound, for an unknown session,
// before any file is created) and the writer's Close calls done(size) to
// record it complete. An existing file is truncated: a log written again
// replaces the previous copy.
func (f files) createLog(session int64, slave, path string, record func(file string) error,
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

// logSize returns the size of a log's file now (for a log still being
// written), or recorded when the file cannot be read.
func (f files) logSize(session int64, l LogFile, recorded int64) int64 {
	if p, _, err := logPath(f.dir, session, l.Slave, l.Path); err == nil {
		if fi, err := os.Stat(p); err == nil {
			return fi.Size()
		}
	}
	return recorded
}

// removeSession deletes the outputs and logs of a session. Missing ones
// are no error.
func (f files) removeSession(session int64) error {
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

// maxSession returns the highest session number that has outputs or logs
// (0 when none). A database opened on the files of another one (a switch
// from SQLite to PostgreSQL, a lost history.db) must number its sessions
// above it, or new sessions would meet old files: refused outputs, logs
// overwritten.
func (f files) maxSession() (int64, error) {
	ids, err := f.sessions()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return ids[len(ids)-1], nil
}

// sessions returns the sessions that have outputs or logs, in increasing
// order.
func (f files) sessions() ([]int64, error) {
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
