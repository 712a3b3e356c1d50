package session

import (
	"context"
	"time"
)

// SlaveState is one slave's state as AwaitSlaves sees it.
type SlaveState struct {
	Connected bool
	// Busy names the stage the slave runs ("" when idle).
	Busy string
}

// AwaitSlaves is the waiting rule of Slaves.WaitForSlaves, for every
// implementation: it waits until every named slave is connected and idle,
// or ctx ends, and then returns those that are not ("name", or "name
// (busy with STAGE)"); connected (nil: none) is called once for each
// slave as it comes. states reports the named slaves now, in order, with
// a channel closed at the next change; poll, when not zero, looks again
// that often without a change (busy slaves become idle without one).
func AwaitSlaves(ctx context.Context, names []string, connected func(slave string),
	states func(names []string) ([]SlaveState, <-chan struct{}), poll time.Duration) []string {
	seen := map[string]bool{}
	for {
		now, changed := states(names)
		var missing []string
		for i, n := range names {
			st := now[i]
			if st.Connected && !seen[n] {
				seen[n] = true
				if connected != nil {
					connected(n)
				}
			}
			switch {
			case !st.Connected:
				missing = append(missing, n)
			case st.Busy != "":
				missing = append(missing, n+" (busy with "+st.Busy+")")
			}
		}
		if len(missing) == 0 {
			return nil
		}
		var tick <-chan time.Time
		if poll > 0 {
			tick = time.After(poll)
		}
		select {
		case <-ctx.Done():
			return missing
		case <-changed:
		case <-tick:
		}
	}
}
