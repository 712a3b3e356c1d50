package notify

import (
	"context"
	"sync"
)

// Recorder is a [Notifier] that records the messages it is given, for the
// tests of other packages. The zero value is ready to use; it is safe for
// concurrent use.
type Recorder struct {
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced at every Notify
}

var _ Notifier = (*Recorder)(nil)

// Notify records a copy of m.
func (r *Recorder) Notify(_ context.Context, m Message) {
	m.To = append([]string(nil), m.To...)
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	r.mu.Unlock()
}

// Messages returns the messages recorded so far, in order.
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// Reset forgets the recorded messages.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.msgs = nil
	r.mu.Unlock()
}

// Wait waits until at least n messages were recorded and returns them, or
// returns what was recorded and ctx.Err() at the end of ctx.
func (r *Recorder) Wait(ctx context.Context, n int) ([]Message, error) {
	for {
		r.mu.Lock()
		if len(r.msgs) >= n {
			msgs := append([]Message(nil), r.msgs...)
			r.mu.Unlock()
			return msgs, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Messages(), ctx.Err()
		}
	}
}
