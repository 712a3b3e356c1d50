package session

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// resultBatcher writes the per-slave results of a stage: whatever is
// queued when the writer gets to it goes in one transaction. With one
// write per slave, a stage of 1000 slaves queued 1000 commits behind the
// store's single writer before the last slave even got its command.
//
// A result that starts running is held back (putLater) for runningDelay:
// when the slave reports within it, as it does for short stages, only its
// final state is written, one row write instead of two.
type resultBatcher struct {
	st     store.Store
	log    *slog.Logger
	notify func()
	clock  Clock

	mu      sync.Mutex
	queue   []store.Result
	later   map[string]store.Result // held back, by slave
	timer   Timer                   // releases later
	stopped bool                    // kick is closed
	kick    chan struct{}
	drained *sync.Cond
	writing bool
	done    chan struct{}
}

// runningDelay is how long a stage runs on a slave before the history
// shows it running: a stage under way lists a slave once it has run that
// long, or ended.
const runningDelay = time.Second

func newResultBatcher(ctx context.Context, st store.Store, log *slog.Logger, notify func(), clock Clock) *resultBatcher {
	b := &resultBatcher{st: st, log: log, notify: notify, clock: clock, kick: make(chan struct{}, 1), done: make(chan struct{})}
	b.drained = sync.NewCond(&b.mu)
	go b.run(context.WithoutCancel(ctx))
	return b
}

// put queues a copy of res: the caller goes on changing it. It replaces
// the slave's result held back by putLater.
func (b *resultBatcher) put(res *store.Result) {
	b.mu.Lock()
	delete(b.later, res.Slave)
	b.queue = append(b.queue, *res)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// putLater queues a copy of res after runningDelay, unless put replaced
// it by then.
func (b *resultBatcher) putLater(res *store.Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.later == nil {
		b.later = map[string]store.Result{}
	}
	b.later[res.Slave] = *res
	if b.timer == nil {
		b.timer = b.clock.AfterFunc(runningDelay, b.release)
	}
}

// release queues the results held back.
func (b *resultBatcher) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	b.releaseLocked()
	// Under mu: close cannot have closed kick.
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *resultBatcher) releaseLocked() {
	for _, res := range b.later {
		b.queue = append(b.queue, res)
	}
	clear(b.later)
}

func (b *resultBatcher) run(ctx context.Context) {
	defer close(b.done)
	for range b.kick {
		// Let the goroutines ready to run queue their results first:
		// one transaction for them all rather than one for each (a
		// transaction's begin and commit cost as much as a few rows).
		runtime.Gosched()
		b.mu.Lock()
		batch := b.queue
		b.queue = nil
		b.writing = true
		b.mu.Unlock()
		if len(batch) > 0 {
			rs := make([]*store.Result, len(batch))
			for i := range batch {
				rs[i] = &batch[i]
			}
			// A failing write is logged, not fatal: the session goes on
			// and its outputs are still on disk.
			if err := b.st.PutResults(ctx, rs); err != nil {
				b.log.Error("cannot record results", "results", len(rs), "err", err)
			}
			if b.notify != nil {
				b.notify()
			}
		}
		b.mu.Lock()
		b.writing = false
		b.drained.Broadcast()
		b.mu.Unlock()
	}
}

// flush waits until everything queued so far is written.
func (b *resultBatcher) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) > 0 || b.writing {
		select {
		case b.kick <- struct{}{}:
		default:
		}
		b.drained.Wait()
	}
}

// close flushes, what is held back included, and stops the writer.
func (b *resultBatcher) close() {
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.releaseLocked()
	b.mu.Unlock()
	b.flush()
	b.mu.Lock()
	b.stopped = true
	close(b.kick)
	b.mu.Unlock()
	<-b.done
}
