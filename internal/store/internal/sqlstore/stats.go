package sqlstore

import (
	"fmt"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// DayNS is one day in nanoseconds: created_ns / DayNS is the UTC day.
const DayNS = int64(24 * time.Hour)

// StatsWindow checks the window [from, to) of Store.Stats and returns it
// as column values.
func StatsWindow(from, to time.Time) (fromNS, toNS int64, err error) {
	args, err := Times(from, to)
	if err != nil {
		return 0, 0, err
	}
	if args[0] == nil || args[1] == nil || !from.Before(to) {
		return 0, 0, fmt.Errorf("%w: stats window [%v, %v)", store.ErrInvalid, from, to)
	}
	return args[0].(int64), args[1].(int64), nil
}

// StatsAcc builds a Stats from the rows of a stats query (one per UTC day
// and state, ordered by day), the same for every database.
type StatsAcc struct {
	st    *store.Stats
	total time.Duration
	timed int64
}

// NewStatsAcc starts the Stats of the window [from, to).
func NewStatsAcc(from, to time.Time) *StatsAcc {
	return &StatsAcc{st: &store.Stats{From: from.UTC(), To: to.UTC(), ByState: map[store.SessionState]int{}}}
}

// Add counts n sessions of one state created on day (days since the
// epoch); sum is the total duration of the timedN of them that have both
// Started and Ended.
func (a *StatsAcc) Add(day int64, state store.SessionState, n, sum, timedN int64) {
	st := a.st
	if len(st.PerDay) == 0 || st.PerDay[len(st.PerDay)-1].Day.UnixNano() != day*DayNS {
		st.PerDay = append(st.PerDay, store.DayStats{Day: time.Unix(0, day*DayNS).UTC(), ByState: map[store.SessionState]int{}})
	}
	d := &st.PerDay[len(st.PerDay)-1]
	d.Sessions += int(n)
	d.ByState[state] += int(n)
	st.Sessions += int(n)
	st.ByState[state] += int(n)
	if state.Finished() {
		a.total += time.Duration(sum)
		a.timed += timedN
	}
}

// Done returns the Stats.
func (a *StatsAcc) Done() *store.Stats {
	if a.timed > 0 {
		a.st.MeanDurationNs = a.total / time.Duration(a.timed)
	}
	return a.st
}
