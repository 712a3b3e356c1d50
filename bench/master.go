package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/pki"
)

// Secrets of the benchmark's masters: throwaway, loopback only.
const (
	connToken = "bench-connection-token"
	apiToken  = "bench-api-token"
)

// masterProc is an `xrdtest master` child process.
type masterProc struct {
	cmd        *exec.Cmd
	daemonAddr string // host:port for the simulated slaves
	client     *api.Client
	fp         pki.Fingerprint
	log        *tailBuffer // its stderr (log level WARNING), for diagnostics
	exited     chan struct{}
	waitErr    error
	http       *http.Client
	pprof      string // host:port of its net/http/pprof server, if any
}

// freePorts asks the kernel for n distinct free ports on the loopback.
// They are closed before the master binds them: a small race, acceptable
// on a test machine.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startMaster writes dir/master.conf for the definitions in repo and starts
// bin as `xrdtest master -c dir/master.conf`, returning once it printed its
// CA fingerprint and its API answers.
func startMaster(ctx context.Context, bin, dir, repo string, pprof bool) (*masterProc, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	daemonPort, webPort := ports[0], ports[1]
	// slave_wait_timeout is how long a session waits for its slaves; they
	// are all connected before the session starts, so it only matters
	// when something is wrong. stage_timeout is far above any stage here.
	// start_clusters = 0: the machines are "physical", their slaves
	// connect by themselves (no hypervisor).
	conf := fmt.Sprintf(`# written by go run ./bench
[general]
test-repos = bench
state_dir = %s

[test-repo-bench]
type = localfs
local_path = %s

[server]
ip = 127.0.0.1
port = %d
connection_passwd = %s

[webserver]
port = %d
api_token = %s

[scheduler]
enabled = 0

[session]
stage_timeout = 1800
slave_wait_timeout = 120s
start_clusters = 0

[daemon]
log_level = WARNING
`, filepath.Join(dir, "state"), repo, daemonPort, connToken, webPort, apiToken)
	confPath := filepath.Join(dir, "master.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	m := &masterProc{
		daemonAddr: fmt.Sprintf("127.0.0.1:%d", daemonPort),
		log:        &tailBuffer{max: 64 << 10},
		exited:     make(chan struct{}),
		// No overall timeout: the session detail of 1000 slaves is large;
		// callers bound their requests with contexts.
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
	if m.client, err = api.NewClient(api.Options{URL: fmt.Sprintf("http://127.0.0.1:%d", webPort), Token: apiToken, HTTP: m.http}); err != nil {
		return nil, err
	}
	m.cmd = command(bin, "master", "-c", confPath)
	if pprof {
		m.pprof = fmt.Sprintf("127.0.0.1:%d", ports[2])
		m.cmd.Env = append(os.Environ(), "XRDTEST_PPROF="+m.pprof)
	}
	m.cmd.Stderr = m.log
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.exited)
	}()
	// The master prints its CA fingerprint on stdout once it listens.
	fpc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`CA fingerprint[^:]*: (sha256:[0-9a-f]{64})`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if mm := re.FindStringSubmatch(sc.Text()); mm != nil {
				select {
				case fpc <- mm[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-fpc:
		if m.fp, err = pki.ParseFingerprint(s); err != nil {
			m.stop()
			return nil, err
		}
	case <-m.exited:
		return nil, fmt.Errorf("the master exited at start (%v):\n%s", m.waitErr, m.log)
	case <-time.After(30 * time.Second):
		m.stop()
		return nil, fmt.Errorf("the master printed no CA fingerprint in 30s:\n%s", m.log)
	case <-ctx.Done():
		m.stop()
		return nil, ctx.Err()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := m.client.Status(ctx); err == nil {
			return m, nil
		} else if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("the master's API does not answer: %v\n%s", err, m.log)
		}
	}
}

// cpuProfile fetches a CPU profile of seconds from the master's pprof
// server into file, in the background; the channel gives the outcome.
func (m *masterProc) cpuProfile(ctx context.Context, file string, seconds int) <-chan error {
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.pprof, seconds), nil)
			if err != nil {
				return err
			}
			resp, err := m.http.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s", resp.Status)
			}
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			progress("master CPU profile written to %s", file)
			return f.Close()
		}()
	}()
	return errc
}

// stop ends the master with SIGTERM (a clean shutdown), then SIGKILL if
// it takes more than 30 seconds.
func (m *masterProc) stop() error {
	select {
	case <-m.exited:
		return nil
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
		var ee *exec.ExitError
		if m.waitErr != nil && !errors.As(m.waitErr, &ee) {
			return m.waitErr
		}
		return nil
	case <-time.After(30 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
		return errors.New("the master did not stop within 30s of SIGTERM: killed")
	}
}

// memory returns VmRSS (resident now) and VmHWM (peak resident) of the
// master, in bytes, from /proc/PID/status.
func (m *masterProc) memory() (rss, hwm int64, err error) {
	return procMemory(m.cmd.Process.Pid)
}

func procMemory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: unexpected %s line %q", pid, k, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return rss, hwm, nil
}

// cpuTime returns the CPU time (user + system) the master has used.
func (m *masterProc) cpuTime() (time.Duration, error) { return procCPU(m.cmd.Process.Pid) }

// procCPU returns the CPU time (user + system) process pid has used.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold blanks:
	// count the fields after its closing one. utime and stime are fields
	// 14 and 15, in clock ticks of 1/100 s (USER_HZ).
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// ---- the JSON API ----

// slaveCount returns how many slaves the master lists as connected.
func (m *masterProc) slaveCount(ctx context.Context) (int, error) {
	ds, err := m.client.Daemons(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		if d.Role == api.RoleSlave {
			n++
		}
	}
	return n, nil
}

// waitSlaves waits until the master lists n connected slaves.
func (m *masterProc) waitSlaves(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := m.slaveCount(ctx)
		if err == nil && got == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the master lists %d connected slaves after %s, want %d (%v)", got, timeout, n, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.exited:
			return fmt.Errorf("the master exited (%v):\n%s", m.waitErr, m.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runSession starts a session of suite and waits for it to end, polling
// the session list (cheap: no stages); it returns the session's id and
// final state.
func (m *masterProc) runSession(ctx context.Context, suite string, timeout time.Duration) (*api.Session, error) {
	s, err := m.client.Start(ctx, suite, nil, "bench")
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		list, err := m.client.Sessions(ctx, api.SessionFilter{Suite: suite, Limit: 10})
		if err != nil {
			return nil, err
		}
		for _, x := range list.Sessions {
			if x.ID == s.ID && x.State.Finished() {
				return x, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("session %d of %s has not ended after %s", s.ID, suite, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-m.exited:
			return nil, fmt.Errorf("the master exited during session %d (%v):\n%s", s.ID, m.waitErr, m.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// detail fetches a session with its stages and results, and says how
// large the document was.
func (m *masterProc) detail(ctx context.Context, id int64) (*api.SessionDetail, int64, error) {
	counted := &countingTransport{rt: m.http.Transport}
	c, err := api.NewClient(api.Options{URL: m.client.URL(), Token: apiToken, HTTP: &http.Client{Transport: counted}})
	if err != nil {
		return nil, 0, err
	}
	d, err := c.Session(ctx, id)
	if err != nil {
		return nil, counted.n.Load(), fmt.Errorf("session %d: %w", id, err)
	}
	return d, counted.n.Load(), nil
}

// countingTransport counts the bytes of the answers' bodies.
type countingTransport struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &t.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// output opens the stored output of one slave's stage, streamed.
func (m *masterProc) output(ctx context.Context, id int64, stage int, slave string) (io.ReadCloser, error) {
	body, err := m.client.Output(ctx, id, stage, slave, false)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return body, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.b) == 0 {
		return "(the master logged nothing)"
	}
	return "master log (tail):\n" + string(t.b)
}
