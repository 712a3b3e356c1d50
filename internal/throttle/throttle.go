// Package throttle limits guessing: it counts the failed attempts of each
// client address at a secret (a login password, an API token, the
// enrollment token) and refuses the address for a while after too many.
//
// A Limiter refuses, it never sleeps: a sleep would hold a connection per
// guess. It remembers a bounded number of addresses, and the normal path
// (no failures) costs one map lookup under a mutex.
package throttle

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Defaults of New: 5 failures within a minute refuse an address for 5
// minutes; 10,000 addresses are remembered at most.
const (
	DefaultFailures = 5
	DefaultWindow   = time.Minute
	DefaultLockout  = 5 * time.Minute
	DefaultTracked  = 10000
)

// Limiter counts failures per address. The zero value is not usable: use
// New.
type Limiter struct {
	// Failures within Window refuse an address for Lockout; at most
	// Tracked addresses are remembered.
	Failures int
	Window   time.Duration
	Lockout  time.Duration
	Tracked  int

	mu sync.Mutex
	by map[string]*record
}

type record struct {
	n     int
	first time.Time // of the failures counted in n
	until time.Time // refused until then
}

// New returns a Limiter with the defaults.
func New() *Limiter {
	return &Limiter{Failures: DefaultFailures, Window: DefaultWindow, Lockout: DefaultLockout, Tracked: DefaultTracked,
		by: map[string]*record{}}
}

// Refused returns how long addr is still refused (0: not). A refused
// attempt must not even be checked: it does not count as a guess.
func (l *Limiter) Refused(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.by[addr]; r != nil && now.Before(r.until) {
		return r.until.Sub(now)
	}
	return 0
}

// Failed counts a failed attempt of addr; it returns how long addr is now
// refused (0: not yet).
func (l *Limiter) Failed(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.by[addr]
	if r == nil {
		if len(l.by) >= l.Tracked {
			l.evict(now)
		}
		r = &record{}
		l.by[addr] = r
	}
	if now.Sub(r.first) > l.Window {
		r.n, r.first = 0, now
	}
	r.n++
	if r.n >= l.Failures {
		r.n, r.until = 0, now.Add(l.Lockout)
		return l.Lockout
	}
	return 0
}

// Succeeded forgets addr's failures.
func (l *Limiter) Succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.by, addr)
}

// Len is how many addresses are remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.by)
}

// evict drops the entries that no longer count; when all still do (many
// addresses failing at once), an arbitrary tenth, so memory stays bounded.
func (l *Limiter) evict(now time.Time) {
	for a, r := range l.by {
		if now.Sub(r.first) > l.Window && !now.Before(r.until) {
			delete(l.by, a)
		}
	}
	for a := range l.by {
		if len(l.by) < l.Tracked*9/10 {
			break
		}
		delete(l.by, a)
	}
}

// Host is the address part of a "host:port" peer address: the unit the
// limiter counts (a client has many ports). Headers such as
// X-Forwarded-For are not trusted by the callers: anyone can set them.
func Host(peer string) string {
	if host, _, err := net.SplitHostPort(peer); err == nil {
		return host
	}
	return peer
}

// RefusedError is the answer to a refused address: HTTP 429 with
// Retry-After, gRPC ResourceExhausted.
type RefusedError struct {
	What string // what failed too often: "logins", "API token attempts"...
	Wait time.Duration
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("too many failed %s from your address: try again in %d seconds", e.What, e.Seconds())
}

// Seconds is Wait in whole seconds, rounded up (Retry-After's unit).
func (e *RefusedError) Seconds() int { return int((e.Wait + time.Second - 1) / time.Second) }
