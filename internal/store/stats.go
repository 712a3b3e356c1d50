package store

import "time"

// statsAcc builds a Stats from the rows of a stats query (one per UTC day
// and state, ordered by day), the same for every database.
type statsAcc struct {
	st    *Stats
	total time.Duration
	timed int64
}

func newStatsAcc(from, to time.Time) *statsAcc {
	return &statsAcc{st: &Stats{From: from.UTC(), To: to.UTC(), ByState: map[SessionState]int{}}}
}

// add counts n sessions of one state created on day (days since the
// epoch); sum is the total duration of the timedN of them that have both
// Started and Ended.
func (a *statsAcc) add(day int64, state SessionState, n, sum, timedN int64) {
	st := a.st
	if len(st.PerDay) == 0 || st.PerDay[len(st.PerDay)-1].Day.UnixNano() != day*dayNS {
		st.PerDay = append(st.PerDay, DayStats{Day: time.Unix(0, day*dayNS).UTC(), ByState: map[SessionState]int{}})
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

func (a *statsAcc) done() *Stats {
	if a.timed > 0 {
		a.st.MeanDurationNs = a.total / time.Duration(a.timed)
	}
	return a.st
}
