package daemons

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/protocol"
)

// logWait follows one CollectLogs request.
type logWait struct {
	open  func(path string) (io.WriteCloser, error)
	mu    sync.Mutex
	files map[string]io.WriteCloser
	errs  []string
	done  chan struct{}
}

func (c *daemonConn) handleLogChunk(ch *protocol.LogChunk) {
	c.mu.Lock()
	w := c.logs[ch.GetId()]
	c.mu.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := ch.GetPath(); p != "" {
		f := w.files[p]
		if f == nil && ch.GetError() == "" {
			var err error
			if f, err = w.open(p); err != nil {
				w.errs = append(w.errs, fmt.Sprintf("%s: %v", p, err))
				f = nopWriteCloser{}
			}
			w.files[p] = f
		}
		if f != nil && len(ch.GetData()) > 0 {
			if _, err := f.Write(ch.GetData()); err != nil {
				w.errs = append(w.errs, fmt.Sprintf("%s: %v", p, err))
			}
		}
		if ch.GetError() != "" {
			w.errs = append(w.errs, fmt.Sprintf("%s: %s", p, ch.GetError()))
		}
		if ch.GetEof() && f != nil {
			if err := f.Close(); err != nil {
				w.errs = append(w.errs, fmt.Sprintf("%s: %v", p, err))
			}
			w.files[p] = nopWriteCloser{}
		}
	}
	if ch.GetDone() {
		select {
		case <-w.done:
		default:
			close(w.done)
		}
	}
}

type nopWriteCloser struct{}

func (nopWriteCloser) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriteCloser) Close() error                { return nil }

// CollectLogs fetches files from a slave into writers made by open. It
// returns the per-file problems (a missing file is one) as an error.
func (r *Registry) CollectLogs(ctx context.Context, slave, id string, paths []string, maxBytes int64, open func(path string) (io.WriteCloser, error)) error {
	c := r.slave(slave)
	if c == nil {
		return fmt.Errorf("slave %s is not connected", slave)
	}
	w := &logWait{open: open, files: map[string]io.WriteCloser{}, done: make(chan struct{})}
	c.mu.Lock()
	c.logs[id] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.logs, id)
		c.mu.Unlock()
		w.mu.Lock()
		for _, f := range w.files {
			f.Close()
		}
		w.mu.Unlock()
	}()
	if !c.send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_CollectLogs{CollectLogs: &protocol.CollectLogs{Id: id, Paths: paths, MaxBytes: maxBytes}}}) {
		return fmt.Errorf("connection to %s lost", slave)
	}
	select {
	case <-w.done:
	case <-c.closed:
		return fmt.Errorf("connection to %s lost while collecting logs", slave)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("%s did not send its logs within 5 minutes", slave)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 {
		return fmt.Errorf("%v", w.errs)
	}
	return nil
}
