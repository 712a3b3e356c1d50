package httpapi

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/throttle"
)

// Defaults of the stream bounds: a browser keeps a few streams per tab;
// a script following outputs, a few more.
const (
	DefaultStreamsPerClient = 16
	DefaultStreams          = 256
)

// Streams bounds the responses that stay open (Server-Sent Events,
// followed output), per client address and in total: each holds a
// connection and goroutines for as long as the client wants, out of the
// reach of the server's timeouts. The zero value has the defaults; a nil
// *Streams bounds nothing.
type Streams struct {
	PerClient int // 0: DefaultStreamsPerClient
	Total     int // 0: DefaultStreams

	mu sync.Mutex
	by map[string]int
	n  int
}

// errTooManyStreams answers a stream over the bounds.
func errTooManyStreams(what string) error {
	return withStatus(http.StatusTooManyRequests, errors.New("too many live streams open "+what+": close some (other tabs or followers) and try again"))
}

// Start admits a stream of r, and lifts the server's read and write
// deadlines for it: a stream outlives them by design. The caller defers
// release. Over the bounds, an error with status 429.
func (s *Streams) Start(w http.ResponseWriter, r *http.Request) (release func(), err error) {
	if s != nil {
		addr := throttle.Host(r.RemoteAddr)
		per, total := s.PerClient, s.Total
		if per == 0 {
			per = DefaultStreamsPerClient
		}
		if total == 0 {
			total = DefaultStreams
		}
		s.mu.Lock()
		switch {
		case s.by[addr] >= per:
			err = errTooManyStreams("from your address")
		case s.n >= total:
			err = errTooManyStreams("on this master")
		default:
			if s.by == nil {
				s.by = map[string]int{}
			}
			s.by[addr]++
			s.n++
		}
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		release = func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.n--
			if s.by[addr]--; s.by[addr] <= 0 {
				delete(s.by, addr)
			}
		}
	} else {
		release = func() {}
	}
	NoDeadlines(w)
	return release, nil
}

// NoDeadlines lifts the server's read and write deadlines of the
// connection of w: for streams, and for downloads of files (outputs,
// logs) that may take longer than the write timeout on a slow link. The
// read deadline goes too: the server's background read of an idle request
// would otherwise end the request at it.
func NoDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}
