// Package syncsock is how a stage script reaches its slave for
// `xrdtest sync`: a per-stage local socket and a token, both passed in the
// script's environment. The slave relays each call to the master, which
// knows every member of the stage.
package syncsock

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/xrdtest/xrdtest/internal/pki"
)

// Environment variables a script inherits.
const (
	EnvSocket = "XRDTEST_SYNC_SOCKET"
	EnvToken  = "XRDTEST_SYNC_TOKEN"
)

// Request is one call, as sent over the socket (one JSON line).
type Request struct {
	Token     string `json:"token"`
	Op        string `json:"op"` // barrier, signal, wait
	Name      string `json:"name"`
	Count     int64  `json:"count,omitempty"`
	TimeoutMs int64  `json:"timeout_ms,omitempty"`
}

// Response is the answer; an empty Error means the call completed.
type Response struct {
	Error string `json:"error,omitempty"`
}

// Handler decides a call; it returns "" or why it failed. ctx ends with
// the stage.
type Handler func(ctx context.Context, r Request) string

// Server is one stage's socket.
type Server struct {
	ln    net.Listener
	token string
}

// ListenIn opens the socket: abstract for dir "" (no file to clean up, no
// path length limit), else as a file in dir, which is what a script in
// another network namespace reaches (abstract sockets belong to one); the
// file is removed when the stage ends. The random token keeps other local
// processes out.
func ListenIn(dir string) (*Server, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	name := "@xrdtest-sync-" + hex.EncodeToString(b[:8])
	if dir != "" {
		name = filepath.Join(dir, "sync-"+hex.EncodeToString(b[:8])+".sock")
	}
	ln, err := net.Listen("unix", name)
	if err != nil {
		return nil, err
	}
	return &Server{ln: ln, token: hex.EncodeToString(b[8:])}, nil
}

// Env is what the script needs to call back.
func (s *Server) Env() []string {
	return []string{EnvSocket + "=" + s.ln.Addr().String(), EnvToken + "=" + s.token}
}

// Serve answers calls until ctx ends.
func (s *Server) Serve(ctx context.Context, h Handler) {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serveConn(ctx, conn, h)
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn, h Handler) {
	defer conn.Close()
	var req Request
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	var resp Response
	switch {
	case err != nil:
		resp.Error = "bad request: " + err.Error()
	case !pki.TokenEqual(req.Token, s.token):
		resp.Error = "wrong sync token"
	default:
		resp.Error = h(ctx, req)
	}
	b, _ := json.Marshal(resp)
	conn.Write(append(b, '\n'))
}

// ErrNotInStage is returned by Call outside a stage script.
var ErrNotInStage = errors.New("not inside an xrdtest stage script (" + EnvSocket + " is not set)")

// Call makes a call from a script, using the environment.
func Call(ctx context.Context, op, name string, count int64, timeout time.Duration) error {
	sock, token := os.Getenv(EnvSocket), os.Getenv(EnvToken)
	if sock == "" {
		return ErrNotInStage
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("cannot reach the slave: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	b, _ := json.Marshal(Request{Token: token, Op: op, Name: name, Count: count, TimeoutMs: timeout.Milliseconds()})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("cannot reach the slave: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("no answer from the slave: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("bad answer from the slave: %w", err)
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return nil
}
