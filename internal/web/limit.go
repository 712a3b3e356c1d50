package web

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Failed logins an address may make in loginWindow before it is refused
// for loginLockout; at most loginTracked addresses are remembered.
const (
	loginFailures = 5
	loginWindow   = time.Minute
	loginLockout  = 5 * time.Minute
	loginTracked  = 10000
)

// loginLimiter counts failed logins per client address, so the password
// cannot be guessed at network speed. It refuses, never sleeps: a sleep
// would hold a connection per guess.
type loginLimiter struct {
	mu sync.Mutex
	by map[string]*loginFailure
}

type loginFailure struct {
	n     int
	first time.Time // of the failures counted in n
	until time.Time // refused until then
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{by: map[string]*loginFailure{}} }

// clientAddr is the request's peer address without the port. Headers such
// as X-Forwarded-For are not trusted: anyone can set them.
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// refused returns how long addr is still refused (0: not).
func (l *loginLimiter) refused(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.by[addr]; f != nil && now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// failed counts a failed login of addr and reports whether it is now
// refused.
func (l *loginLimiter) failed(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.by[addr]
	if f == nil {
		if len(l.by) >= loginTracked {
			l.evict(now)
		}
		f = &loginFailure{}
		l.by[addr] = f
	}
	if now.Sub(f.first) > loginWindow {
		f.n, f.first = 0, now
	}
	f.n++
	if f.n >= loginFailures {
		f.n, f.until = 0, now.Add(loginLockout)
		return true
	}
	return false
}

// succeeded forgets addr's failures.
func (l *loginLimiter) succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.by, addr)
}

// evict drops the entries that no longer count; when all still do (many
// addresses failing at once), an arbitrary tenth, so memory stays bounded.
func (l *loginLimiter) evict(now time.Time) {
	for a, f := range l.by {
		if now.Sub(f.first) > loginWindow && !now.Before(f.until) {
			delete(l.by, a)
		}
	}
	for a := range l.by {
		if len(l.by) < loginTracked*9/10 {
			break
		}
		delete(l.by, a)
	}
}
