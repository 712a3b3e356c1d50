package files

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/xrdtest/xrdtest/internal/store"
)

const (
	dirPerm  = 0o700
	filePerm = 0o600
	// bufSize is the buffer of output and log writers. Output chunks larger
	// than the buffer bypass it (bufio writes them directly).
	bufSize = 64 << 10
)

// outputWriter is the store.OutputWriter of a file.
//
// Write policy: every chunk is written to the file before Append returns,
// unbuffered. The output is watched live (OpenOutput readers, "tail -f" by
// an admin), the sequence number acknowledged to the slave must describe
// bytes that are in the file (they survive a crash of the master process),
// and chunks from slaves are already coalesced at the source, so one
// write(2) per chunk costs little. The file is created by the first chunk;
// OpenOutput finds no output before it. Close fsyncs the file.
type outputWriter struct {
	mu     sync.Mutex
	path   string
	f      *os.File // nil until the first chunk
	next   uint64
	n      int64
	err    error
	closed bool
}

// createOutput prepares a writer. The file is created with the first
// chunk: most stages print nothing, and a stage of 1000 slaves should not
// create, sync and hold 1000 empty files. Refusing an existing output
// (history is never overwritten) is checked here and again, atomically,
// when the file is created.
func createOutput(path string) (*outputWriter, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("store: output: %w", &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist})
	}
	return &outputWriter{path: path, next: 1}, nil
}

// Append writes chunk seq; resends are ignored, gaps refused. Each chunk
// goes to the file before Append returns, so a live reader sees it and an
// acknowledged chunk is on disk.
func (w *outputWriter) Append(seq uint64, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return fmt.Errorf("store: output %s: %w", w.path, store.ErrClosed)
	case w.err != nil:
		return w.err
	case seq == 0:
		return fmt.Errorf("%w: output chunk sequence number 0 (they start at 1)", store.ErrInvalid)
	case seq < w.next:
		return nil // already written: a resend
	case seq > w.next:
		return fmt.Errorf("%w: got chunk %d, expected %d", store.ErrOutputGap, seq, w.next)
	}
	if w.f == nil {
		if err := os.MkdirAll(filepath.Dir(w.path), dirPerm); err != nil {
			w.err = fmt.Errorf("store: output: %w", err)
			return w.err
		}
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, filePerm)
		if err != nil {
			w.err = fmt.Errorf("store: output: %w", err)
			return w.err
		}
		w.f = f
	}
	if _, err := w.f.Write(p); err != nil {
		w.err = fmt.Errorf("store: output: %w", err)
		return w.err
	}
	w.n += int64(len(p))
	w.next++
	return nil
}

// Bytes returns how many bytes were written.
func (w *outputWriter) Bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// NextSeq returns the sequence number expected next.
func (w *outputWriter) NextSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// Close syncs and closes the file, if any chunk created one.
func (w *outputWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f == nil {
		return w.err
	}
	if w.err != nil {
		w.f.Close()
		return w.err
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: output: %w", err)
	}
	return nil
}

// openFile opens a stored file for reading.
func openFile(path string) (io.ReadSeekCloser, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return f, nil
}

// logWriter writes a collected log file; Close calls done with its size,
// which records it in the database.
type logWriter struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	bw     *bufio.Writer
	n      int64
	err    error
	closed bool
	done   func(size int64) error
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("store: log %s: %w", w.path, store.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("store: log: %w", err)
		return n, w.err
	}
	return n, nil
}

func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: log: %w", err)
	}
	if err := w.done(w.n); err != nil {
		return fmt.Errorf("store: log: %w", err)
	}
	return nil
}
