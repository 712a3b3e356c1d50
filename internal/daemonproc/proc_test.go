package daemonproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/config"
)

func TestPidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "xrdtest.pid")
	self := strconv.Itoa(os.Getpid()) + "\n"
	// Written, in a folder created for it.
	if stale, err := writePidFile(path); err != nil || stale != 0 {
		t.Fatalf("writePidFile: %d, %v", stale, err)
	}
	if b, _ := os.ReadFile(path); string(b) != self {
		t.Errorf("pid file holds %q, want %q", b, self)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}

	// Refused while another live process holds it.
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	live := strconv.Itoa(sleeper.Process.Pid)
	os.WriteFile(path, []byte(live+"\n"), 0o644)
	_, err := writePidFile(path)
	if !errors.Is(err, ErrPidFileHeld) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "process "+live) {
		t.Errorf("with a live holder: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != live+"\n" {
		t.Errorf("the holder's pid file was changed: %q", b)
	}
	// Not removed by a process it does not name.
	if err := removePidFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("another process's pid file was removed")
	}

	// A dead process's file is replaced, its pid returned for a warning.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(strconv.Itoa(dead.Process.Pid)+"\n"), 0o644)
	if stale, err := writePidFile(path); err != nil || stale != dead.Process.Pid {
		t.Errorf("over a stale file: %d, %v; want %d", stale, err, dead.Process.Pid)
	}
	if b, _ := os.ReadFile(path); string(b) != self {
		t.Errorf("pid file holds %q after replacing a stale one", b)
	}
	// So is garbage.
	os.WriteFile(path, []byte("not a pid"), 0o644)
	if _, err := writePidFile(path); err != nil {
		t.Errorf("over garbage: %v", err)
	}

	// Removed at exit; no temporary file left behind.
	if err := removePidFile(path); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Errorf("left in the folder: %v", entries)
	}
}

func TestLogFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log", "x.log")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("before\n"), 0o600)
	l, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("one\n"))
	// logrotate: rename, then SIGHUP.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("two\n"))
	if err := l.reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("three\n"))
	if b, _ := os.ReadFile(path + ".1"); string(b) != "before\none\ntwo\n" {
		t.Errorf("rotated file: %q", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "three\n" {
		t.Errorf("new file: %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("new log file mode %v, want at most 0640", fi.Mode())
	}
	// A file that cannot be opened again keeps the old one.
	os.Remove(path)
	os.Mkdir(path, 0o755)
	if err := l.reopen(); err == nil {
		t.Error("reopen over a folder succeeded")
	}
	if _, err := l.Write([]byte("four\n")); err != nil {
		t.Errorf("write after a failed reopen: %v", err)
	}
}

// TestDaemonLogging: [daemon] log_file_path, log_level (Python names) and
// log_format as startDaemon applies them.
func TestDaemonLogging(t *testing.T) {
	tests := []struct {
		level string
		want  []string // messages logged at DEBUG, INFO, WARNING, ERROR that pass
	}{
		{"NOTSET", []string{"debug", "info", "warning", "error"}},
		{"DEBUG", []string{"debug", "info", "warning", "error"}},
		{"INFO", []string{"info", "warning", "error"}},
		{"WARN", []string{"warning", "error"}},
		{"WARNING", []string{"warning", "error"}},
		{"ERROR", []string{"error"}},
		{"CRITICAL", nil},
	}
	for _, tt := range tests {
		for _, format := range []string{"text", "json"} {
			t.Run(tt.level+"/"+format, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "daemon.log")
				var stderr bytes.Buffer
				p, err := Start("test", "test", config.Daemon{LogFilePath: path, LogLevel: config.LogLevel(tt.level), LogFormat: format}, &stderr)
				if err != nil {
					t.Fatal(err)
				}
				p.Log.Debug("debug")
				p.Log.Info("info")
				p.Log.Warn("warning", "secret", config.Secret("hunter2"))
				p.Log.Error("error")
				p.Close()
				if stderr.Len() != 0 {
					t.Errorf("logged to stderr with a log file: %q", stderr.String())
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				sc := bufio.NewScanner(bytes.NewReader(b))
				for sc.Scan() {
					var msg string
					if format == "json" {
						var rec map[string]any
						if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
							t.Fatalf("not JSON: %q: %v", sc.Text(), err)
						}
						if _, ok := rec["time"].(string); !ok || rec["level"] == nil {
							t.Errorf("record without time or level: %v", rec)
						}
						msg, _ = rec["msg"].(string)
					} else {
						if !strings.HasPrefix(sc.Text(), "time=") {
							t.Errorf("not a text record: %q", sc.Text())
						}
						_, after, _ := strings.Cut(sc.Text(), " msg=")
						if strings.HasPrefix(after, `"`) {
							q, _, _ := strings.Cut(after[1:], `"`)
							msg = q
						} else {
							msg, _, _ = strings.Cut(after, " ")
						}
					}
					if !strings.HasPrefix(msg, "xrdtest test ") { // starting, stopped
						got = append(got, msg)
					}
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Errorf("logged %v, want %v", got, tt.want)
				}
				if strings.Contains(string(b), "hunter2") {
					t.Errorf("a secret was logged")
				}
			})
		}
	}
}

// TestDaemonPidFileRefused: a second daemon with the same pid file does
// not start, and leaves the file alone.
func TestDaemonPidFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.pid")
	var stderr bytes.Buffer
	p, err := Start("test", "test", config.Daemon{PidFilePath: path, LogLevel: "INFO", LogFormat: "text"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	os.WriteFile(path, []byte(strconv.Itoa(sleeper.Process.Pid)), 0o644)
	if _, err := Start("test", "test", config.Daemon{PidFilePath: path, LogLevel: "INFO", LogFormat: "text"}, &stderr); !errors.Is(err, ErrPidFileHeld) {
		t.Errorf("second daemon: %v", err)
	}
	p.Close() // the file names the other process now: kept
	if _, err := os.Stat(path); err != nil {
		t.Errorf("pid file of another process removed: %v", err)
	}
}

// A SIGHUP reopens the log file at once, even while the reload of an
// earlier one still runs (a git fetch can take minutes: logrotate's file
// stayed in use); the signals coming meanwhile make one more reload.
func TestHangupReopensDuringReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	f, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, err := NewLogger(f, "INFO", "text")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{name: "test", Log: log, file: f, hup: make(chan os.Signal, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, release := make(chan int, 10), make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	var reloads atomic.Int32
	p.HandleHangups(ctx, func() {
		started <- int(reloads.Add(1))
		<-release
	})
	hangup := func() {
		t.Helper()
		select {
		case p.hup <- syscall.SIGHUP:
		case <-time.After(10 * time.Second):
			t.Fatal("SIGHUP not taken: the handler waits for the reload")
		}
	}

	hangup()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no reload")
	}
	// The reload hangs; logrotate renames the file and signals.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		hangup()
	}
	// Each of the three is handled (a reopen, a line in the new file)
	// before the reload ends: a signal handled after would rightly make
	// one more reload.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(path); strings.Count(string(b), "log file reopened") == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the log file was not reopened while a reload ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	releaseOnce.Do(func() { close(release) })
	select {
	case n := <-started:
		if n != 2 {
			t.Errorf("reload %d, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the signals during the reload made no reload")
	}
	time.Sleep(50 * time.Millisecond)
	if n := reloads.Load(); n != 2 {
		t.Errorf("%d reloads, want 2: those of the signals during one are one", n)
	}
}
