package views

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// followPoll is how often a follower looks for new output and for the end
// of the stage.
const followPoll = 100 * time.Millisecond

// OutputFollower reads one slave's output of one stage, also while it is
// being written. The JSON API's output?follow=1 and the web pages' live
// output (Server-Sent Events) both use it.
type OutputFollower struct {
	st      store.Store
	session int64
	stage   int
	slave   string
	follow  bool
	f       io.ReadSeekCloser
}

// CheckCell returns store.ErrNotFound unless the session exists and
// stage and slave name a cell of it: one of its machines, a stage of its
// plan (suite_init, three per case, suite_finalize). Waiting for the
// output of any other cell would wait until the session ends.
func CheckCell(ctx context.Context, st store.Store, session int64, stage int, slave string) error {
	s, err := st.Session(ctx, session)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no session %d: %w", session, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if !slices.Contains(s.Machines, slave) {
		return fmt.Errorf("session %d has no slave %q: %w", session, slave, store.ErrNotFound)
	}
	if n := 2 + 3*len(s.Cases); stage >= 0 && stage < n {
		return nil
	}
	// Beyond the plan: only a stage that was recorded (none should be).
	stages, err := st.Stages(ctx, session)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(stages, func(x *store.Stage) bool { return x.Index == stage }) {
		return fmt.Errorf("session %d has no stage %d: %w", session, stage, store.ErrNotFound)
	}
	return nil
}

// OpenOutput opens an output for Copy. With follow, an output not created
// yet is waited for (bounded by ctx) until the stage has ended there; an
// output that never came is store.ErrNotFound. Callers that follow check
// the cell first (CheckCell): a cell the session does not have would be
// waited for until the session ends.
func OpenOutput(ctx context.Context, st store.Store, session int64, stage int, slave string, follow bool) (*OutputFollower, error) {
	o := &OutputFollower{st: st, session: session, stage: stage, slave: slave, follow: follow}
	for {
		f, err := st.OpenOutput(session, stage, slave)
		if err == nil {
			o.f = f
			return o, nil
		}
		if !follow || !errors.Is(err, store.ErrNotFound) || o.ended(ctx) {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("no output for session %d stage %d slave %s: %w", session, stage, slave, store.ErrNotFound)
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(followPoll):
		}
	}
}

// Close closes the output file.
func (o *OutputFollower) Close() error { return o.f.Close() }

// Size is the number of bytes written so far.
func (o *OutputFollower) Size() (int64, error) {
	cur, err := o.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	end, err := o.f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	_, err = o.f.Seek(cur, io.SeekStart)
	return end, err
}

// ended reports whether the stage has ended on the slave (or the session
// has, for a stage that has no result).
func (o *OutputFollower) ended(ctx context.Context) bool {
	res, err := store.OneResult(ctx, o.st, o.session, o.stage, o.slave)
	if err == nil {
		return res.Status != store.StatusRunning && res.Status != store.StatusPending
	}
	if !errors.Is(err, store.ErrNotFound) {
		return true
	}
	s, err := o.st.Session(ctx, o.session)
	return err != nil || s.State.Finished()
}

// Copy sends the output from byte offset to emit, in chunks of at most
// 64 KiB, never holding more in memory. Following, it calls flush each
// time it has caught up with the writer and returns once the stage has
// ended and everything is sent; otherwise at the end of what is written.
// It stops when ctx ends or emit fails, returning that error.
func (o *OutputFollower) Copy(ctx context.Context, offset int64, emit func([]byte) error, flush func()) error {
	if offset > 0 {
		if _, err := o.f.Seek(offset, io.SeekStart); err != nil {
			return err
		}
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := o.f.Read(buf)
		if n > 0 {
			if err := emit(buf[:n]); err != nil {
				return err
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		// At the end of what was written so far.
		if !o.follow || o.ended(ctx) {
			// One last read: the stage may have written its tail
			// between our read and the check.
			if n, _ := o.f.Read(buf); n > 0 {
				if err := emit(buf[:n]); err != nil {
					return err
				}
				continue
			}
			return nil
		}
		if flush != nil {
			flush()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followPoll):
		}
	}
}

// OpenLogFile opens the log file path collected from slave in session id;
// a bad name wraps ErrBadQuery, a missing file store.ErrNotFound, saying
// why it may be missing.
func OpenLogFile(st store.Store, id int64, slave, path string) (io.ReadSeekCloser, error) {
	if slave == "" || path == "" || len(slave) > 255 || len(path) > 4096 {
		return nil, fmt.Errorf("%w: give slave=NAME and path=PATH", ErrBadQuery)
	}
	f, err := st.OpenLog(id, slave, path)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: log %s of %s in session %d: never collected, or deleted by the retention limits ([retention] outputs_max_age)",
			store.ErrNotFound, path, slave, id)
	}
	return f, err
}

// DefaultStatsDays is how many days the dashboard's statistics cover.
const DefaultStatsDays = 14
