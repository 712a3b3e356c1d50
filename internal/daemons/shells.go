package daemons

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/xrdtest/xrdtest/internal/protocol"
)

// ShellRequest asks a slave for a shell (see protocol.ShellOpen).
type ShellRequest struct {
	Session int64
	// Command is the command's words; empty: an interactive bash.
	Command    []string
	TTY        bool
	Rows, Cols int
	Term       string
	Env        []string
}

// ErrShellRefused: the slave cannot take a shell now (not connected,
// too many shells open).
var ErrShellRefused = errors.New("shell refused")

// Shell is a shell open on a slave, as the master relays it: its output
// queued for one reader (Next), its input paced by the slave's window
// (Write). It ends with the slave's ShellExit or with the connection.
// Its queue never holds more than the window the slave keeps to, so the
// connection's reader never waits for a shell's client.
type Shell struct {
	id   string
	conn *daemonConn

	mu       sync.Mutex
	queue    []*protocol.ShellOutput
	qbytes   int
	ready    chan struct{} // signalled when queue or end change
	exit     *protocol.ShellExit
	ended    chan struct{} // closed at the end
	inflight int           // input sent, not yet written by the slave
	inAcked  chan struct{} // closed and replaced when input is acknowledged
	toAck    int           // output taken, not yet acknowledged
	closed   bool
}

var shellSeq atomic.Uint64

// OpenShell asks the slave for a shell.
func (r *Registry) OpenShell(slave string, req ShellRequest) (*Shell, error) {
	c := r.slave(slave)
	if c == nil {
		return nil, fmt.Errorf("%w: slave %s is not connected", ErrShellRefused, slave)
	}
	s := &Shell{id: fmt.Sprintf("shell/%d", shellSeq.Add(1)), conn: c, ready: make(chan struct{}, 1), ended: make(chan struct{}), inAcked: make(chan struct{})}
	c.mu.Lock()
	if c.shells == nil {
		c.shells = map[string]*Shell{}
	}
	if len(c.shells) >= protocol.MaxShells {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s has %d shells open already, the most it allows: close one first", ErrShellRefused, slave, protocol.MaxShells)
	}
	c.shells[s.id] = s
	c.mu.Unlock()
	open := &protocol.ShellOpen{Id: s.id, Command: req.Command, Tty: req.TTY, Rows: uint32(max(0, req.Rows)), Cols: uint32(max(0, req.Cols)),
		Term: req.Term, Session: req.Session, Env: req.Env}
	if !c.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_ShellOpen{ShellOpen: open}}) {
		c.dropShell(s)
		return nil, fmt.Errorf("%w: slave %s disconnected", ErrShellRefused, slave)
	}
	return s, nil
}

// SlaveConnected reports whether the slave is connected now.
func (r *Registry) SlaveConnected(name string) bool { return r.slave(name) != nil }

func (c *daemonConn) dropShell(s *Shell) {
	c.mu.Lock()
	if c.shells[s.id] == s {
		delete(c.shells, s.id)
	}
	c.mu.Unlock()
}

func (c *daemonConn) shell(id string) *Shell {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shells[id]
}

func (s *Shell) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// output takes a ShellOutput from the connection's reader.
func (s *Shell) output(o *protocol.ShellOutput) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := o.GetInputAcked(); n > 0 {
		s.inflight = max(0, s.inflight-int(n))
		close(s.inAcked)
		s.inAcked = make(chan struct{})
	}
	if len(o.GetData()) == 0 || s.exit != nil {
		return
	}
	s.queue = append(s.queue, o)
	s.qbytes += len(o.GetData())
	if s.qbytes > protocol.ShellWindow+protocol.ShellChunk {
		// The slave does not keep to its window: end the shell rather
		// than hold its output.
		s.endLocked(&protocol.ShellExit{Id: s.id, ExitCode: -1, Error: "the slave sent more output than its window allows"})
		s.conn.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_ShellInput{ShellInput: &protocol.ShellInput{Id: s.id, Close: true}}})
		return
	}
	s.signal()
}

// end records the shell's end; what was queued is still read first.
func (s *Shell) end(e *protocol.ShellExit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(e)
}

func (s *Shell) endLocked(e *protocol.ShellExit) {
	if s.exit != nil {
		return
	}
	s.exit = e
	close(s.ended)
	s.conn.dropShell(s)
	s.signal()
}

// Output is a piece of a shell's output.
type Output struct {
	Data   []byte
	Stderr bool
}

// Exit is how a shell ended: its exit code, or Error when it could not
// run or was ended (killed, its slave gone).
type Exit struct {
	Code  int
	Error string
}

// Next returns the shell's next output, or its end (exit not nil) once
// all output was read. The caller passes the output on, then calls Ack
// with its size.
func (s *Shell) Next(ctx context.Context) (out *Output, exit *Exit, err error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			o := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.qbytes -= len(o.GetData())
			s.mu.Unlock()
			return &Output{Data: o.GetData(), Stderr: o.GetStderr()}, nil, nil
		}
		if e := s.exit; e != nil {
			s.mu.Unlock()
			return nil, &Exit{Code: int(e.GetExitCode()), Error: e.GetError()}, nil
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-s.conn.closed:
			s.end(&protocol.ShellExit{Id: s.id, ExitCode: -1, Error: fmt.Sprintf("the connection to slave %s dropped (%s)", s.conn.id.Name, s.conn.closeReason())})
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// Ack tells the slave that n bytes of output were passed on, so it may
// send more: at once when little is left to send, else in batches.
func (s *Shell) Ack(n int) {
	s.mu.Lock()
	s.toAck += n
	send := s.toAck >= protocol.ShellWindow/4 || len(s.queue) == 0
	acked := s.toAck
	if send {
		s.toAck = 0
	}
	s.mu.Unlock()
	if send && acked > 0 {
		s.input(&protocol.ShellInput{OutputAcked: uint64(acked)})
	}
}

func (s *Shell) input(in *protocol.ShellInput) bool {
	in.Id = s.id
	select {
	case <-s.ended:
		return false
	default:
	}
	return s.conn.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_ShellInput{ShellInput: in}})
}

// errShellEnded: input for a shell that has ended.
var errShellEnded = errors.New("the shell has ended")

// Write sends input, in chunks, each once the slave's window has room.
func (s *Shell) Write(ctx context.Context, data []byte) error {
	for len(data) > 0 {
		n := min(len(data), protocol.ShellChunk)
		for {
			s.mu.Lock()
			room, acked := s.inflight < protocol.ShellWindow, s.inAcked
			if room {
				s.inflight += n
			}
			s.mu.Unlock()
			if room {
				break
			}
			select {
			case <-acked:
			case <-s.ended:
				return errShellEnded
			case <-s.conn.closed:
				return errShellEnded
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !s.input(&protocol.ShellInput{Data: append([]byte(nil), data[:n]...)}) {
			return errShellEnded
		}
		data = data[n:]
	}
	return nil
}

// Resize sets the shell's terminal size.
func (s *Shell) Resize(rows, cols int) {
	if rows > 0 && cols > 0 && rows < 1<<16 && cols < 1<<16 {
		s.input(&protocol.ShellInput{Rows: uint32(rows), Cols: uint32(cols)})
	}
}

// Signal sends a signal (INT, TERM, HUP, QUIT, KILL) to the shell's
// foreground job.
func (s *Shell) Signal(name string) { s.input(&protocol.ShellInput{Signal: name}) }

// CloseInput ends the shell's input.
func (s *Shell) CloseInput() { s.input(&protocol.ShellInput{Eof: true}) }

// Close kills the shell's process tree unless it has ended, and forgets
// it. Its end is then the error given.
func (s *Shell) Close(reason string) {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	s.mu.Unlock()
	if first {
		s.input(&protocol.ShellInput{Close: true})
	}
	s.end(&protocol.ShellExit{Id: s.id, ExitCode: -1, Error: reason})
}
