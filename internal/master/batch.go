package master

import (
	"context"
	"log/slog"
	"sync"

	"github.com/xrdtest/xrdtest/internal/store"
)

// resultBatcher writes the per-slave results of a stage: whatever is
// queued when the writer gets to it goes in one transaction. With one
// write per slave, a stage of 1000 slaves queued 1000 commits behind the
// store's single writer before the last slave even got its command.
type resultBatcher struct {
	st     store.Store
	log    *slog.Logger
	notify func()

	mu      sync.Mutex
	queue   []store.Result
	kick    chan struct{}
	drained *sync.Cond
	writing bool
	done    chan struct{}
}

func newResultBatcher(ctx context.Context, st store.Store, log *slog.Logger, notify func()) *resultBatcher {
	b := &resultBatcher{st: st, log: log, notify: notify, kick: make(chan struct{}, 1), done: make(chan struct{})}
	b.drained = sync.NewCond(&b.mu)
	go b.run(context.WithoutCancel(ctx))
	return b
}

// put queues a copy of res: the caller goes on changing it.
func (b *resultBatcher) put(res *store.Result) {
	b.mu.Lock()
	b.queue = append(b.queue, *res)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *resultBatcher) run(ctx context.Context) {
	defer close(b.done)
	for range b.kick {
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

// close flushes and stops the writer.
func (b *resultBatcher) close() {
	b.flush()
	close(b.kick)
	<-b.done
}
