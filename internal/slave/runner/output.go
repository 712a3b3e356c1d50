package runner

import (
	"errors"
	"os"
	"sync"
	"time"
)

// pump reads the script's output pipe and passes it to out in chunks of
// at most MaxChunk bytes, at most FlushInterval after their first byte.
// It uses one goroutine and one reused buffer; the timing is done with
// read deadlines on the pipe, so no second goroutine or copy is needed.
type pump struct {
	r    *os.File
	out  func([]byte)
	buf  []byte
	n    int // bytes in buf not yet passed to out
	done chan struct{}

	mu       sync.Mutex // guards the deadline fields and SetReadDeadline
	flushAt  time.Time  // zero: buf is empty
	drainEnd time.Time  // zero: the main process is still running
}

// buffers are the pumps' buffers, kept from one stage to the next: a
// stage of a short script would otherwise cost a 64 KiB allocation and
// its garbage.
var buffers = sync.Pool{New: func() any { return new([MaxChunk]byte) }}

func newPump(r *os.File, out func([]byte)) *pump {
	return &pump{r: r, out: out, buf: buffers.Get().(*[MaxChunk]byte)[:], done: make(chan struct{})}
}

// release returns the buffer once run has returned (out never keeps it).
func (p *pump) release() {
	buffers.Put((*[MaxChunk]byte)(p.buf))
	p.buf = nil
}

// run reads until EOF, a read error, or the end of the drain period.
func (p *pump) run() {
	defer close(p.done)
	for {
		p.mu.Lock()
		if p.n > 0 && p.flushAt.IsZero() {
			p.flushAt = time.Now().Add(FlushInterval)
		}
		p.armLocked()
		p.mu.Unlock()

		m, err := p.r.Read(p.buf[p.n:])
		p.n += m
		if p.n == len(p.buf) {
			p.flush()
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			p.flush()
			if p.drained() {
				return
			}
		default: // io.EOF: every writer is gone
			p.flush()
			return
		}
	}
}

func (p *pump) flush() {
	if p.n > 0 {
		p.out(p.buf[:p.n])
		p.n = 0
	}
	p.mu.Lock()
	p.flushAt = time.Time{}
	p.mu.Unlock()
}

// drain lets run read for d more, then stop; called once the main
// process exited. Safe to call while run is blocked in Read.
func (p *pump) drain(d time.Duration) {
	p.mu.Lock()
	p.drainEnd = time.Now().Add(d)
	p.armLocked()
	p.mu.Unlock()
}

func (p *pump) drained() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.drainEnd.IsZero() && !time.Now().Before(p.drainEnd)
}

// armLocked sets the read deadline to the earlier of flushAt and drainEnd.
func (p *pump) armLocked() {
	d := p.flushAt
	if !p.drainEnd.IsZero() && (d.IsZero() || p.drainEnd.Before(d)) {
		d = p.drainEnd
	}
	// Only fails for files without deadline support; os.Pipe has it.
	_ = p.r.SetReadDeadline(d)
}
