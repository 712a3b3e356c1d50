// Package pgtest gives tests a private PostgreSQL database.
//
// [Database] returns the URL of a fresh, empty database. The databases live
// in one of two servers:
//
//   - the server named by XRDTEST_POSTGRES_URL (a role that may create
//     databases; each test's database is dropped after it), or else
//   - a throwaway server this package starts once per test binary: initdb
//     into a temporary directory, then postgres listening on a unix socket
//     in that directory only (listen_addresses is empty: no TCP), with
//     fsync off. As root it runs as the user "postgres" (or "nobody"),
//     since PostgreSQL refuses to run as root. The binaries are looked for
//     in XRDTEST_POSTGRES_BIN, on PATH, then in /usr/lib/postgresql/*/bin
//     (Debian; the newest version) and /usr/pgsql-*/bin.
//
// Without either, the tests skip with a message saying so, except when
// PostgreSQL is required: CI=true or XRDTEST_POSTGRES_REQUIRED=1 in the
// environment (scripts/test.sh sets the latter), where they fail.
//
// A package using Database should stop the server at its end with
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// (the server is also killed when the test process dies, by the parent
// death signal).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Required reports whether a missing PostgreSQL fails the tests.
func Required() bool {
	return isTrue(os.Getenv("CI")) || isTrue(os.Getenv("XRDTEST_POSTGRES_REQUIRED"))
}

func isTrue(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

var (
	once    sync.Once
	srv     *server
	srvErr  error
	counter atomic.Int64
)

// Database returns the URL of a new empty database private to t; t fails
// or skips (see the package documentation) when there is no PostgreSQL.
func Database(t testing.TB) string {
	t.Helper()
	once.Do(func() { srv, srvErr = start() })
	if srvErr != nil {
		if Required() {
			t.Fatalf("PostgreSQL is required (CI=true or XRDTEST_POSTGRES_REQUIRED=1) but unavailable: %v", srvErr)
		}
		t.Skipf("no PostgreSQL, test skipped: %v (install the postgresql package or set XRDTEST_POSTGRES_URL)", srvErr)
	}
	name := fmt.Sprintf("xrdtest_%d_%d", os.Getpid(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	if srv.external {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := srv.exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
				t.Errorf("pgtest: drop database %s: %v", name, err)
			}
		})
	}
	u := *srv.url
	u.Path = "/" + name
	return u.String()
}

// Main runs the tests and then stops the server, if one was started; it
// returns the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	return code
}

// server is where the test databases are created.
type server struct {
	url      *url.URL // of the maintenance database
	external bool     // XRDTEST_POSTGRES_URL: nothing to stop
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	mu       sync.Mutex
	admin    *pgx.Conn
}

func (s *server) exec(ctx context.Context, sql string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil || s.admin.IsClosed() {
		c, err := pgx.Connect(ctx, s.url.String())
		if err != nil {
			return err
		}
		s.admin = c
	}
	_, err := s.admin.Exec(ctx, sql)
	return err
}

func start() (*server, error) {
	if u := os.Getenv("XRDTEST_POSTGRES_URL"); u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "postgres" && pu.Scheme != "postgresql") {
			return nil, errors.New("XRDTEST_POSTGRES_URL is not a postgres:// URL")
		}
		s := &server{url: pu, external: true}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.exec(ctx, `SELECT 1`); err != nil {
			return nil, fmt.Errorf("XRDTEST_POSTGRES_URL: %v", err)
		}
		return s, nil
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	return startServer(bin)
}

// findBinaries returns the directory holding initdb and postgres.
func findBinaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("XRDTEST_POSTGRES_BIN"); d != "" {
		if !has(d) {
			return "", fmt.Errorf("XRDTEST_POSTGRES_BIN=%s holds no initdb and postgres", d)
		}
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	var dirs []string
	for _, pat := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pat)
		dirs = append(dirs, m...)
	}
	// Newest version first: compare the numeric part of the version
	// directory ("15" > "9.6").
	version := func(d string) float64 {
		v := filepath.Base(filepath.Dir(d))
		v = strings.TrimPrefix(v, "pgsql-")
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	slices.SortFunc(dirs, func(a, b string) int {
		va, vb := version(a), version(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, postgres) found on PATH, in /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin")
}

// startServer runs initdb and postgres in a new temporary directory.
func startServer(bin string) (_ *server, err error) {
	// Under /tmp, whatever TMPDIR says: the socket path must stay short
	// (107 bytes), and a root-owned 0700 TMPDIR would lock the server's
	// user out.
	base := "/tmp"
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "xrdtest-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		cred, err = serverUser()
		if err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, lastLines(string(out), 10))
	}

	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	if cred != nil {
		logFile.Chown(int(cred.Uid), int(cred.Gid))
	}
	s := &server{dir: dir, exited: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses=",
		// Fast and unsafe on a crash, which a throwaway server never
		// minds. synchronous_commit stays on: with it off, VACUUM cannot
		// mark fresh pages all-visible at once, and plans differ.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// SIGQUIT, an immediate shutdown, when the test process dies.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	started := make(chan error, 1)
	go func() {
		// The parent death signal comes when the thread that started
		// the child exits: this goroutine keeps its thread for the life
		// of the server.
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("postgres: %v", err)
	}
	s.url = &url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
		RawQuery: url.Values{"host": {dir}, "sslmode": {"disable"}}.Encode()}

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.exec(ctx, `SELECT 1`)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited: %s", lastLines(string(log), 10))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres did not accept connections within 60s: %v: %s", err, lastLines(string(log), 10))
		}
	}
}

// serverUser is who runs the server when the tests run as root.
func serverUser() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root and there is no user postgres or nobody to run the server as")
}

// stop shuts the server down (fast shutdown: clients are disconnected) and
// removes its directory.
func (s *server) stop() {
	s.mu.Lock()
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.admin.Close(ctx)
		cancel()
	}
	s.mu.Unlock()
	if s.external || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
