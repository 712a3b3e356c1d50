package httpapi

import "sync"

// Changes tells live views (the web pages' Server-Sent Events) that a
// session's record changed. Publishing never blocks: a subscriber that
// has not read yet has its pending notices merged.
type Changes struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription receives the ids of changed sessions.
type Subscription struct {
	c       *Changes
	mu      sync.Mutex
	pending map[int64]struct{}
	ready   chan struct{} // buffered 1: pending is not empty
}

// Publish notes a change of session id (session.Manager.Changed).
func (c *Changes) Publish(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		s.mu.Lock()
		s.pending[id] = struct{}{}
		s.mu.Unlock()
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
}

// Subscribe starts receiving notices; Close the subscription when done.
func (c *Changes) Subscribe() *Subscription {
	s := &Subscription{c: c, pending: map[int64]struct{}{}, ready: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[*Subscription]struct{}{}
	}
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	return s
}

// Ready receives a value when changes are pending; Take them.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the sessions changed since the last Take.
func (s *Subscription) Take() map[int64]struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = map[int64]struct{}{}
	return out
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.c.mu.Lock()
	delete(s.c.subs, s)
	s.c.mu.Unlock()
}
