// Package syncsock is how a stage script reaches its slave for
// `xrdtest sync` and `xrdtest fault`: the slave's local socket and the
// stage's token, both passed in the script's environment. The slave
// relays each call to the master, which knows every member of the stage.
// One socket serves all stages of a slave: a socket made per stage cost
// half a millisecond of CPU as a file (the netns hosts'), a tenth of a
// stage's whole cost.
package syncsock

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/pki"
	"golang.org/x/sys/unix"
)

// Environment variables a script inherits.
const (
	EnvSocket = "XRDTEST_SYNC_SOCKET"
	EnvToken  = "XRDTEST_SYNC_TOKEN"
	// EnvError says why a stage has no socket: the slave could not open
	// one (its log says so too), which a script would otherwise take
	// for not being in a stage.
	EnvError = "XRDTEST_SYNC_ERROR"
)

// Request is one call, as sent over the socket (one JSON line).
type Request struct {
	Token     string `json:"token"`
	Op        string `json:"op"` // barrier, signal, wait
	Name      string `json:"name"`
	Count     int64  `json:"count,omitempty"`
	TimeoutMs int64  `json:"timeout_ms,omitempty"`
	// Args are a fault call's words (op "fault"): KIND ARGS, heal, list.
	Args []string `json:"args,omitempty"`
}

// Response is the answer; an empty Error means the call completed, with
// Result as its outcome (a fault's id, the faults listed).
type Response struct {
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Handler decides a call. ctx ends with the stage.
type Handler func(ctx context.Context, r Request) Response

// Server is a slave's socket.
type Server struct {
	ln      net.Listener
	path    string // what scripts dial: the file, or the abstract name
	release func()

	mu     sync.Mutex
	stages map[string]*stage // by the token's id part
}

// stage is a running stage's calls: its token and who answers them.
type stage struct {
	token string
	ctx   context.Context
	h     Handler
}

// maxRequest bounds a request's size (a fault's words are the longest).
const maxRequest = 64 << 10

// requestWait bounds how long a connection may take to send its request.
const requestWait = 10 * time.Second

// idLen is the length of a token's first part, which names the stage;
// the rest is its secret.
const idLen = 16

// ListenIn opens the socket: abstract for dir "" (no file to clean up, no
// path length limit), else as a file in dir, which is what a script in
// another network namespace reaches (abstract sockets belong to one); the
// file is removed when Serve ends.
func ListenIn(dir string) (*Server, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	path := "@xrdtest-sync-" + hex.EncodeToString(b)
	release := func() {}
	name := path
	if dir != "" {
		path = filepath.Join(dir, "sync-"+hex.EncodeToString(b)+".sock")
		var err error
		if name, release, err = reachable(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", name)
	if err != nil {
		release()
		return nil, err
	}
	return &Server{ln: ln, path: path, release: release, stages: map[string]*stage{}}, nil
}

// sunPathMax is the longest socket path bind and connect take: sun_path
// holds 108 bytes on Linux, the terminating NUL included.
const sunPathMax = 107

// reachable returns a name for the socket file at path that bind and
// connect take: path itself, or for a longer one (a deep state folder:
// the netns backend's hosts) the file's name under /proc/self/fd/N, N
// being its folder opened O_PATH. release closes that folder; until then
// the name stays valid, the listener's removal of the file at Close
// included.
func reachable(path string) (name string, release func(), err error) {
	if len(path) <= sunPathMax {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("sync socket folder: %w", err)
	}
	name = fmt.Sprintf("/proc/self/fd/%d/%s", fd, filepath.Base(path))
	if len(name) > sunPathMax {
		unix.Close(fd)
		return "", nil, fmt.Errorf("sync socket %s: its name is too long", path)
	}
	return name, func() { unix.Close(fd) }, nil
}

// Stage lets a stage's script call: h answers its calls, with ctx,
// until end is called. env is what the script needs to call back.
func (s *Server) Stage(ctx context.Context, h Handler) (env []string, end func()) {
	b := make([]byte, idLen/2+16)
	rand.Read(b) // never fails (crypto/rand)
	token := hex.EncodeToString(b)
	id := token[:idLen]
	s.mu.Lock()
	s.stages[id] = &stage{token: token, ctx: ctx, h: h}
	s.mu.Unlock()
	end = func() {
		s.mu.Lock()
		delete(s.stages, id)
		s.mu.Unlock()
	}
	return []string{EnvSocket + "=" + s.path, EnvToken + "=" + token}, end
}

// Serve answers calls until ctx ends, then closes the socket.
func (s *Server) Serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.ln.Close()
		s.release()
	}()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serveConn(conn)
	}
}

// lookup returns the running stage whose token this is.
func (s *Server) lookup(token string) (*stage, bool) {
	if len(token) <= idLen {
		return nil, false
	}
	s.mu.Lock()
	st := s.stages[token[:idLen]]
	s.mu.Unlock()
	return st, st != nil && pki.TokenEqual(token, st.token)
}

func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	// The request comes at once; the answer may take as long as a
	// barrier waits.
	conn.SetReadDeadline(time.Now().Add(requestWait))
	var req Request
	line, err := bufio.NewReader(io.LimitReader(conn, maxRequest)).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	var resp Response
	if err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if st, ok := s.lookup(req.Token); !ok {
		// A call of a background process of a stage that has ended
		// lands here too.
		resp.Error = "wrong sync token, or its stage has ended"
	} else {
		resp = st.h(st.ctx, req)
	}
	b, _ := json.Marshal(resp)
	conn.Write(append(b, '\n'))
}

// ErrNotInStage is returned by Call outside a stage script.
var ErrNotInStage = errors.New("not inside an xrdtest stage script (" + EnvSocket + " is not set)")

// Call makes a sync call from a script, using the environment.
func Call(ctx context.Context, op, name string, count int64, timeout time.Duration) error {
	_, err := exchange(ctx, Request{Op: op, Name: name, Count: count, TimeoutMs: timeout.Milliseconds()})
	return err
}

// Fault asks, from a script, for a fault to be set, healed or listed
// (args: KIND ARGS..., heal [ID...|all], list); it returns the outcome.
func Fault(ctx context.Context, args []string) (string, error) {
	return exchange(ctx, Request{Op: "fault", Args: args})
}

// exchange sends r through the stage's socket and reads the answer.
func exchange(ctx context.Context, r Request) (string, error) {
	sock, token := os.Getenv(EnvSocket), os.Getenv(EnvToken)
	if sock == "" {
		if why := os.Getenv(EnvError); why != "" {
			return "", fmt.Errorf("the slave has no sync socket for this stage: %s", why)
		}
		return "", ErrNotInStage
	}
	addr, release, err := reachable(sock)
	if err != nil {
		return "", fmt.Errorf("cannot reach the slave: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	release() // a connected socket no longer needs the name
	if err != nil {
		return "", fmt.Errorf("cannot reach the slave: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	r.Token = token
	b, _ := json.Marshal(r)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return "", fmt.Errorf("cannot reach the slave: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("no answer from the slave: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return "", fmt.Errorf("bad answer from the slave: %w", err)
	}
	if resp.Error != "" {
		return "", errors.New(resp.Error)
	}
	return resp.Result, nil
}
