package daemonproc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/xrdtest/xrdtest/internal/config"
)

// Proc is what the master, slave and hypervisor daemons share as
// Linux processes, from their [daemon] section: the logger (standard
// error, or log_file_path reopened on SIGHUP), the pid file, and the
// hang-up signal. SIGTERM and SIGINT end the context main gives the
// daemons.
type Proc struct {
	name string
	// Log is the daemon's logger.
	Log     *slog.Logger
	file    *logFile // nil: standard error
	pidFile string   // "": none
	hup     chan os.Signal
}

// Start writes the pid file, opens the log file and makes the logger of
// the daemon name ("master"...), of this version. Errors are for
// standard error: nothing is logged yet.
func Start(name, version string, d config.Daemon, stderr io.Writer) (*Proc, error) {
	p := &Proc{name: name, hup: make(chan os.Signal, 1)}
	// SIGHUP ends a process that does not handle it: from now on it means
	// "reopen the log file" (and, for the master, reload the definitions).
	signal.Notify(p.hup, syscall.SIGHUP)
	var stale int
	if d.PidFilePath != "" {
		var err error
		if stale, err = writePidFile(d.PidFilePath); err != nil {
			signal.Stop(p.hup)
			return nil, err
		}
		p.pidFile = d.PidFilePath
	}
	var w io.Writer = stderr
	if d.LogFilePath != "" {
		f, err := openLogFile(d.LogFilePath)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.file, w = f, f
	}
	log, err := NewLogger(w, string(d.LogLevel), d.LogFormat)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.Log = log
	if stale != 0 {
		log.Warn("replaced a stale pid file: its process is not running", "pid_file", p.pidFile, "stale_pid", stale)
	}
	log.Info("xrdtest "+name+" starting", "version", version, "pid", os.Getpid(), "pid_file", p.pidFile, "log_file", d.LogFilePath,
		"log_level", string(d.LogLevel))
	return p, nil
}

// HandleHangups serves SIGHUP until ctx ends: the log file is reopened at
// once, and reload (if any) runs in its own goroutine. A git reload can
// take minutes; a SIGHUP from logrotate meanwhile must not wait for it, or
// the logs go on into the rotated file. Reloads are coalesced: while one
// runs, at most one more waits, however many signals come.
func (p *Proc) HandleHangups(ctx context.Context, reload func()) {
	var due chan struct{} // capacity 1: the reload waiting
	if reload != nil {
		due = make(chan struct{}, 1)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-due:
				}
				reload()
			}
		}()
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.hup:
			}
			var reopened error
			if p.file != nil {
				reopened = p.file.reopen()
			}
			if due != nil {
				select {
				case due <- struct{}{}:
				default: // a reload is already waiting: it will see this change too
				}
			}
			// Logged once the signal is fully handled: a line in the new
			// file says so.
			switch {
			case p.file == nil:
			case reopened != nil:
				p.Log.Error("cannot reopen the log file: still logging to the old one", "err", reopened)
			default:
				p.Log.Info("log file reopened (SIGHUP)", "log_file", p.file.path)
			}
		}
	}()
}

// LogsToFile reports whether the daemon logs to a file rather than to
// standard error.
func (p *Proc) LogsToFile() bool { return p.file != nil }

// Close removes the pid file and closes the log file.
func (p *Proc) Close() {
	signal.Stop(p.hup)
	if p.pidFile != "" {
		if err := removePidFile(p.pidFile); err != nil && !errors.Is(err, os.ErrNotExist) && p.Log != nil {
			p.Log.Warn("cannot remove the pid file", "pid_file", p.pidFile, "err", err)
		}
	}
	if p.Log != nil {
		p.Log.Info("xrdtest " + p.name + " stopped")
	}
	if p.file != nil {
		p.file.Close()
	}
}
