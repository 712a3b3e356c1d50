package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

func TestNS(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, c := range []struct {
		name    string
		in      time.Time
		want    any
		invalid bool
	}{
		{"zero is NULL", time.Time{}, nil, false},
		{"unix nanoseconds", t0, t0.UnixNano(), false},
		{"before 1678", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), nil, true},
		{"after 2262", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), nil, true},
	} {
		got, err := NS(c.in)
		if got != c.want || errors.Is(err, store.ErrInvalid) != c.invalid {
			t.Errorf("%s: NS = %v, %v; want %v (invalid %v)", c.name, got, err, c.want, c.invalid)
		}
	}
}

func TestScanNS(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, c := range []struct {
		in      any
		want    time.Time
		wantErr bool
	}{
		{nil, time.Time{}, false},
		{t0.UnixNano(), t0, false},
		{"1", time.Time{}, true},
	} {
		got := time.Now()
		err := ScanNS(&got).Scan(c.in)
		if (err != nil) != c.wantErr || (err == nil && !got.Equal(c.want)) || (err == nil && got.Location() != time.UTC) {
			t.Errorf("Scan(%v) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestStatsWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		from, to time.Time
		ok       bool
	}{
		{"a day", t0, t0.Add(24 * time.Hour), true},
		{"empty", t0, t0, false},
		{"reversed", t0.Add(time.Hour), t0, false},
		{"zero from", time.Time{}, t0, false},
		{"zero to", t0, time.Time{}, false},
	} {
		from, to, err := StatsWindow(c.from, c.to)
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, store.ErrInvalid)) {
			t.Errorf("%s: err %v", c.name, err)
		}
		if c.ok && (from != c.from.UnixNano() || to != c.to.UnixNano()) {
			t.Errorf("%s: window %d, %d", c.name, from, to)
		}
	}
}

// TestStatsAcc feeds the rows of two days (one state finished and timed,
// one unfinished) and checks the totals, the days and the mean duration.
func TestStatsAcc(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d := day.UnixNano() / DayNS
	a := NewStatsAcc(day, day.Add(48*time.Hour))
	a.Add(d, store.SessionPassed, 3, int64(3*time.Minute), 2)
	a.Add(d, store.SessionRunning, 1, int64(time.Hour), 1) // unfinished: no duration
	a.Add(d+1, store.SessionFailed, 2, int64(4*time.Minute), 2)
	st := a.Done()
	if st.Sessions != 6 || st.ByState[store.SessionPassed] != 3 || st.ByState[store.SessionRunning] != 1 || st.ByState[store.SessionFailed] != 2 {
		t.Errorf("totals: %+v", st)
	}
	if len(st.PerDay) != 2 || !st.PerDay[0].Day.Equal(day) || st.PerDay[0].Sessions != 4 || st.PerDay[1].Sessions != 2 {
		t.Errorf("days: %+v", st.PerDay)
	}
	if want := 7 * time.Minute / 4; st.MeanDurationNs != want {
		t.Errorf("mean %v, want %v", st.MeanDurationNs, want)
	}
}

func TestValues(t *testing.T) {
	code := 3
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if c, s, e, err := ResultValues(&store.Result{Stage: 1, ExitCode: &code, Start: t0}); err != nil || c != int64(3) || s != t0.UnixNano() || e != nil {
		t.Errorf("ResultValues = %v, %v, %v, %v", c, s, e, err)
	}
	if c, _, _, err := ResultValues(&store.Result{}); err != nil || c != nil {
		t.Errorf("ResultValues without exit code = %v, %v", c, err)
	}
	if _, _, _, err := ResultValues(&store.Result{Stage: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ResultValues(stage -1): %v", err)
	}
	if _, _, err := StageTimes(&store.Stage{Index: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("StageTimes(index -1): %v", err)
	}
	se := &store.Session{}
	NewSession(se, func() time.Time { return t0 })
	if !se.Created.Equal(t0) || se.State != store.SessionQueued {
		t.Errorf("NewSession: %+v", se)
	}
	if v, err := EventTime(store.Event{}, func() time.Time { return t0 }); err != nil || v != t0.UnixNano() {
		t.Errorf("EventTime = %v, %v", v, err)
	}
	for reason, want := range map[string]string{"": "interrupted", "master restarted": "interrupted: master restarted"} {
		if got := InterruptedMessage(reason); got != want {
			t.Errorf("InterruptedMessage(%q) = %q, want %q", reason, got, want)
		}
	}
}
