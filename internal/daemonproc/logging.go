package daemonproc

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/xrdtest/xrdtest/internal/config"
)

// NewLogger makes the structured logger of a command. level is a Python
// level name as [daemon] log_level takes it (NOTSET logs everything,
// CRITICAL only what is above ERROR; "" is INFO).
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lv := config.LogLevel("INFO")
	if level != "" {
		var err error
		if lv, err = config.ParseLogLevel(level); err != nil {
			return nil, err
		}
	}
	opts := &slog.HandlerOptions{Level: lv.Slog()}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown log format %q (text or json)", format)
}

// logFile is a log file opened for appending that can be reopened under
// the same name: logrotate renames the file, then signals the daemon
// (SIGHUP), which goes on in a new file.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	l := &logFile{path: path}
	if err := l.reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

// reopen opens the path again; on failure the current file is kept.
func (l *logFile) reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Write writes one record (slog handlers write a record in one call).
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
