package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xrdtest/xrdtest/internal/store"
)

// backend names a server process: its pid and start time, which tell it
// from a later process with the same pid.
type backend struct {
	pid   uint32
	start time.Time
}

// takeLock connects and takes the one-master advisory lock on the new
// connection, which holds it until it closes. stale is the backend of
// this store's previous lock connection, if any: when the client side of
// a connection dies without the server noticing (a network cut), its
// backend lives on, holding the lock, until TCP keepalives end it (hours
// by default); it is ended first.
func takeLock(ctx context.Context, cfg *pgx.ConnConfig, stale backend) (*pgx.Conn, backend, error) {
	c, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, backend{}, err
	}
	fail := func(err error) (*pgx.Conn, backend, error) {
		c.Close(ctx)
		return nil, backend{}, err
	}
	if stale.pid != 0 {
		// Best effort: a role may end its own backends.
		c.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2`,
			int64(stale.pid), stale.start)
	}
	var locked bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(pgLockKey)).Scan(&locked); err != nil {
		return fail(err)
	}
	if !locked {
		return fail(errLockHeld)
	}
	b := backend{pid: c.PgConn().PID()}
	if err := c.QueryRow(ctx, `SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`).Scan(&b.start); err != nil {
		return fail(err)
	}
	return c, b, nil
}

var errLockHeld = errors.New("another master is using this database (its advisory lock is held)")

// WatchLock checks every interval that the connection holding the
// one-master lock is alive, until ctx ends. The server releases the lock
// of a connection it loses (a restart, a network cut, an idle timeout):
// the lock is then taken again on a new connection, and while the server
// cannot be reached this is retried. It returns ErrLockLost when another
// master took the lock meanwhile: two masters would interrupt each other's
// sessions, so this one must stop. Otherwise it returns nil when ctx ends
// or the store is closed.
func (p *Store) WatchLock(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false // taking the lock again failed at the last check
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		st, err := p.checkLock(ctx, interval)
		switch {
		case st == lockClosed || ctx.Err() != nil:
			return nil
		case errors.Is(err, errLockHeld):
			return p.redact(fmt.Errorf("store: %s: %w: the connection holding its lock dropped and another master has the lock now", p.where, store.ErrLockLost))
		case err != nil:
			if !failing {
				log.Error("the database connection holding the one-master lock dropped; taking the lock again failed, retrying", "database", p.Where(), "err", p.redact(err))
			}
			failing = true
		case st == lockRetaken:
			log.Warn("the database connection holding the one-master lock dropped; the lock is held again", "database", p.Where())
			failing = false
		}
	}
}

type lockState int

const (
	lockHeld    lockState = iota // the connection is alive
	lockRetaken                  // taken again on a new connection
	lockClosed                   // the store is closed
)

// checkLock pings the lock's connection, and replaces a dead one.
func (p *Store) checkLock(ctx context.Context, timeout time.Duration) (lockState, error) {
	p.lockMu.Lock()
	defer p.lockMu.Unlock()
	if p.lockCfg == nil {
		return lockClosed, nil
	}
	cctx, cancel := context.WithTimeout(ctx, max(timeout, 5*time.Second))
	defer cancel()
	if p.lock != nil {
		if err := p.lock.Ping(cctx); err == nil {
			return lockHeld, nil
		}
		p.lock.Close(cctx)
		p.lock = nil
	}
	c, b, err := takeLock(cctx, p.lockCfg, p.lockBackend)
	if err != nil {
		return lockHeld, err
	}
	p.lock, p.lockBackend = c, b
	return lockRetaken, nil
}
