package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
)

func TestFiresAtCronTimes(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		start  string
		want   []string // consecutive fire times, local
	}{
		{"every quarter", map[string]string{"minute": "*/15"}, "2024-03-04 10:07:00",
			[]string{"2024-03-04 10:15:00", "2024-03-04 10:30:00", "2024-03-04 10:45:00", "2024-03-04 11:00:00"}},
		{"daily at 3", map[string]string{"hour": "3"}, "2024-03-04 10:07:00",
			[]string{"2024-03-05 03:00:00", "2024-03-06 03:00:00", "2024-03-07 03:00:00"}},
		{"at 3 exactly fires the next day", map[string]string{"hour": "3"}, "2024-03-04 03:00:00",
			[]string{"2024-03-05 03:00:00", "2024-03-06 03:00:00"}},
		{"second minute hour", map[string]string{"second": "30", "minute": "15", "hour": "*"}, "2024-12-31 22:20:00",
			[]string{"2024-12-31 23:15:30", "2025-01-01 00:15:30", "2025-01-01 01:15:30"}},
		{"weekdays", map[string]string{"day_of_week": "mon-fri", "hour": "6", "minute": "30"}, "2024-03-08 07:00:00", // a Friday
			[]string{"2024-03-11 06:30:00", "2024-03-12 06:30:00"}},
		{"last day", map[string]string{"day": "last", "hour": "0"}, "2024-01-31 00:00:01",
			[]string{"2024-02-29 00:00:00", "2024-03-31 00:00:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, at(tc.start), opts{}, suite(t, "s", tc.fields))
			var want []startRec
			for _, w := range tc.want {
				next := at(w)
				if nr := h.next("s"); !nr.Next.Equal(next) || nr.Next.Location() != loc || !nr.Enabled || nr.Pending {
					t.Fatalf("NextRuns = %+v, want next %v", nr, next)
				}
				h.advanceTo(next.Add(-time.Second))
				h.wantStarts(want...) // not yet
				h.advance(time.Second)
				want = append(want, startRec{"s", next})
				h.wantStarts(want...)
			}
		})
	}
}

func TestNextRunsOrder(t *testing.T) {
	never := &definition.Suite{Name: "never"}
	h := newHarness(t, at("2024-03-04 10:07:00"), opts{},
		suite(t, "b", map[string]string{"hour": "3"}),
		never,
		suite(t, "c", map[string]string{"minute": "*/15"}),
		suite(t, "a", map[string]string{"minute": "15"}))
	got := h.s.NextRuns()
	want := []NextRun{
		{Suite: "a", Next: at("2024-03-04 10:15:00"), Enabled: true},
		{Suite: "c", Next: at("2024-03-04 10:15:00"), Enabled: true},
		{Suite: "b", Next: at("2024-03-05 03:00:00"), Enabled: true},
		{Suite: "never", Enabled: true},
	}
	if len(got) != len(want) {
		t.Fatalf("NextRuns = %+v", got)
	}
	for i := range got {
		if got[i].Suite != want[i].Suite || !got[i].Next.Equal(want[i].Next) || got[i].Enabled != want[i].Enabled {
			t.Fatalf("NextRuns = %+v, want %+v", got, want)
		}
	}
	// Different suites due together both start (the Manager serialises
	// those sharing machines).
	h.advanceTo(at("2024-03-04 10:15:00"))
	h.wantStarts(startRec{"a", at("2024-03-04 10:15:00")}, startRec{"c", at("2024-03-04 10:15:00")})
}

func TestEnable(t *testing.T) {
	quarter := map[string]string{"minute": "*/15"}
	t.Run("suite disabled, persisted", func(t *testing.T) {
		store := &fakeStore{}
		h := newHarness(t, at("2024-03-04 10:07:00"), opts{store: store}, suite(t, "a", quarter), suite(t, "b", quarter))
		if err := h.s.SetEnabled(context.Background(), "a", false); err != nil {
			t.Fatal(err)
		}
		if en, known, _ := store.SuiteEnabled(context.Background(), "a"); !known || en {
			t.Fatalf("store: enabled=%v known=%v", en, known)
		}
		h.advanceTo(at("2024-03-04 10:15:00"))
		h.wantStarts(startRec{"b", at("2024-03-04 10:15:00")})
		if nr := h.next("a"); nr.Enabled || !nr.Next.Equal(at("2024-03-04 10:30:00")) {
			t.Fatalf("a: %+v", nr)
		}

		// A new scheduler on the same store keeps a disabled.
		h.start(opts{store: store}, suite(t, "a", quarter), suite(t, "b", quarter))
		if nr := h.next("a"); nr.Enabled {
			t.Fatalf("a after restart: %+v", nr)
		}
		h.advanceTo(at("2024-03-04 10:30:00"))
		h.wantStarts(startRec{"b", at("2024-03-04 10:15:00")}, startRec{"b", at("2024-03-04 10:30:00")})

		// Re-enabled at 10:40: fires at 10:45, not at once.
		h.advanceTo(at("2024-03-04 10:40:00"))
		if err := h.s.SetEnabled(context.Background(), "a", true); err != nil {
			t.Fatal(err)
		}
		h.sync()
		if nr := h.next("a"); !nr.Enabled || !nr.Next.Equal(at("2024-03-04 10:45:00")) {
			t.Fatalf("a re-enabled: %+v", nr)
		}
		h.advanceTo(at("2024-03-04 10:45:00"))
		h.wantStarts(startRec{"b", at("2024-03-04 10:15:00")}, startRec{"b", at("2024-03-04 10:30:00")},
			startRec{"a", at("2024-03-04 10:45:00")}, startRec{"b", at("2024-03-04 10:45:00")})
		if en, known, _ := store.SuiteEnabled(context.Background(), "a"); !known || !en {
			t.Fatalf("store: enabled=%v known=%v", en, known)
		}
		if err := h.s.SetEnabled(context.Background(), "nope", false); !errors.Is(err, ErrUnknownSuite) {
			t.Fatalf("SetEnabled(unknown) = %v", err)
		}
	})
	t.Run("global disable", func(t *testing.T) {
		h := newHarness(t, at("2024-03-04 10:07:00"), opts{disabled: true}, suite(t, "a", quarter))
		for range 3 {
			h.advance(15 * time.Minute)
		}
		h.wantStarts()
		if nr := h.next("a"); nr.Enabled || !nr.Next.Equal(at("2024-03-04 10:15:00").Add(45*time.Minute)) {
			t.Fatalf("a: %+v", nr)
		}
		if h.logs.count("missed") != 0 {
			t.Fatalf("disabled suite logged misses:\n%s", h.logs)
		}
	})
}

func TestOverlap(t *testing.T) {
	quarter := map[string]string{"minute": "*/15"}
	t0 := at("2024-03-04 10:15:00")
	tests := []struct {
		name       string
		overlap    Overlap
		notify     bool // SessionEnded is called, else the recheck poll finds the end
		wantQueued bool
	}{
		{"queue, notified", "", true, true},
		{"queue, polled", OverlapQueue, false, true},
		{"skip", OverlapSkip, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, at("2024-03-04 10:07:00"), opts{overlap: tc.overlap, recheck: time.Minute},
				suite(t, "a", quarter), suite(t, "b", map[string]string{"minute": "*/15"}))
			h.st.keepRunning = true
			h.advanceTo(t0)
			starts := []startRec{{"a", t0}, {"b", t0}}
			h.wantStarts(starts...)
			h.st.end("b")
			// 5 fires while a runs: at most one pending, no pile-up.
			for i := 1; i <= 5; i++ {
				h.advance(15 * time.Minute)
				starts = append(starts, startRec{"b", t0.Add(time.Duration(i) * 15 * time.Minute)})
				h.st.end("b")
				h.wantStarts(starts...)
				if nr := h.next("a"); nr.Pending != tc.wantQueued {
					t.Fatalf("after fire %d: %+v", i, nr)
				}
			}
			if tc.wantQueued {
				if n := h.logs.count("run queued"); n != 1 {
					t.Errorf("%d 'run queued' lines", n)
				}
				if n := h.logs.count("fire dropped"); n != 4 {
					t.Errorf("%d 'fire dropped' lines", n)
				}
			} else if n := h.logs.count("fire skipped"); n != 5 {
				t.Errorf("%d 'fire skipped' lines", n)
			}

			// a ends at 11:40.
			h.advance(10 * time.Minute)
			end := t0.Add(85 * time.Minute)
			h.st.end("a")
			if tc.notify {
				h.s.SessionEnded("a")
				h.sync()
			} else {
				h.wantStarts(starts...) // not before the poll
				h.advance(time.Minute)
				end = end.Add(time.Minute)
			}
			if tc.wantQueued {
				starts = append(starts, startRec{"a", end})
			}
			h.wantStarts(starts...)
			if nr := h.next("a"); nr.Pending {
				t.Fatalf("still pending: %+v", nr)
			}
			// Next regular fire at 11:45 while the pending run (if any) runs.
			h.st.end("b")
			h.advanceTo(at("2024-03-04 11:45:00"))
			starts = append(starts, startRec{"b", at("2024-03-04 11:45:00")})
			if !tc.wantQueued {
				starts = append(starts[:len(starts)-1], startRec{"a", at("2024-03-04 11:45:00")}, starts[len(starts)-1])
			}
			h.wantStarts(starts...)
		})
	}
}

func TestPendingDroppedWhenDisabled(t *testing.T) {
	h := newHarness(t, at("2024-03-04 10:07:00"), opts{}, suite(t, "a", map[string]string{"minute": "*/15"}))
	h.st.keepRunning = true
	h.advance(8 * time.Minute)
	h.advance(15 * time.Minute)
	if !h.next("a").Pending {
		t.Fatal("no pending run")
	}
	if err := h.s.SetEnabled(context.Background(), "a", false); err != nil {
		t.Fatal(err)
	}
	h.st.end("a")
	h.s.SessionEnded("a")
	h.sync()
	if nr := h.next("a"); nr.Pending {
		t.Fatalf("%+v", nr)
	}
	h.wantStarts(startRec{"a", at("2024-03-04 10:15:00")})
}

func TestSetSuitesReload(t *testing.T) {
	h := newHarness(t, at("2024-03-04 10:07:00"), opts{},
		suite(t, "a", map[string]string{"minute": "*/15"}),
		suite(t, "b", map[string]string{"hour": "3"}))
	h.st.keepRunning = true
	h.advanceTo(at("2024-03-04 10:15:00"))
	h.advanceTo(at("2024-03-04 10:30:00")) // queued behind the 10:15 run
	if !h.next("a").Pending {
		t.Fatal("a not pending")
	}
	if err := h.s.SetEnabled(context.Background(), "a", true); err != nil { // no-op
		t.Fatal(err)
	}

	// Reload at 10:31: a kept (new object, same schedule), b removed, c added.
	h.advanceTo(at("2024-03-04 10:31:00"))
	h.s.SetSuites([]*definition.Suite{
		suite(t, "a", map[string]string{"minute": "*/15"}),
		suite(t, "c", map[string]string{"minute": "*/20"}),
	})
	h.sync()
	got := h.s.NextRuns()
	if len(got) != 2 || got[0].Suite != "c" || !got[0].Next.Equal(at("2024-03-04 10:40:00")) ||
		got[1].Suite != "a" || !got[1].Next.Equal(at("2024-03-04 10:45:00")) || !got[1].Pending {
		t.Fatalf("NextRuns = %+v", got)
	}
	// The pending run of a survives the reload.
	h.st.end("a")
	h.s.SessionEnded("a")
	h.sync()
	h.wantStarts(startRec{"a", at("2024-03-04 10:15:00")}, startRec{"a", at("2024-03-04 10:31:00")})
	h.st.end("a")

	// Changed schedule of a takes effect at once; b never fires again.
	h.s.SetSuites([]*definition.Suite{
		suite(t, "a", map[string]string{"minute": "33"}),
		suite(t, "c", map[string]string{"minute": "*/20"}),
	})
	h.sync()
	if nr := h.next("a"); !nr.Next.Equal(at("2024-03-04 10:33:00")) {
		t.Fatalf("a: %+v", nr)
	}
	h.advanceTo(at("2024-03-04 10:33:00"))
	h.st.end("a")
	h.advanceTo(at("2024-03-04 10:40:00"))
	h.wantStarts(startRec{"a", at("2024-03-04 10:15:00")}, startRec{"a", at("2024-03-04 10:31:00")},
		startRec{"a", at("2024-03-04 10:33:00")}, startRec{"c", at("2024-03-04 10:40:00")})
	h.st.end("c")
	h.advanceTo(at("2024-03-05 03:00:00"))
	for _, s := range h.st.started() {
		if s.Suite == "b" {
			t.Fatalf("removed suite b started: %v", h.st.started())
		}
	}
}

func TestClockJumpFiresOnce(t *testing.T) {
	h := newHarness(t, at("2024-03-04 10:07:00"), opts{}, suite(t, "a", map[string]string{"minute": "*/15"}))
	h.advance(2 * time.Hour) // 12:07: 10:15 ... 12:00 were due (8 times)
	h.wantStarts(startRec{"a", at("2024-03-04 12:07:00")})
	if nr := h.next("a"); !nr.Next.Equal(at("2024-03-04 12:15:00")) {
		t.Fatalf("%+v", nr)
	}
	if n := h.logs.count("missed=7"); n != 1 {
		t.Fatalf("want one line with missed=7:\n%s", h.logs)
	}
	h.advance(8 * time.Minute)
	h.wantStarts(startRec{"a", at("2024-03-04 12:07:00")}, startRec{"a", at("2024-03-04 12:15:00")})
}

func TestClockJumpManyMisses(t *testing.T) {
	h := newHarness(t, at("2024-03-04 10:07:00"), opts{}, suite(t, "a", map[string]string{"second": "*"}))
	h.advance(10 * 24 * time.Hour) // 864000 fire times
	h.wantStarts(startRec{"a", at("2024-03-14 10:07:00")})
	if nr := h.next("a"); !nr.Next.Equal(at("2024-03-14 10:07:01")) {
		t.Fatalf("%+v", nr)
	}
}

func TestStartError(t *testing.T) {
	h := newHarness(t, at("2024-03-04 10:07:00"), opts{}, suite(t, "a", map[string]string{"minute": "*/15"}))
	h.st.fail("a", errBoom)
	h.advanceTo(at("2024-03-04 10:15:00"))
	h.wantStarts()
	if h.logs.count("cannot start suite") != 1 || h.logs.count("boom") != 1 {
		t.Fatalf("logs:\n%s", h.logs)
	}
	if nr := h.next("a"); !nr.Next.Equal(at("2024-03-04 10:30:00")) || nr.Pending {
		t.Fatalf("%+v", nr)
	}
	h.advanceTo(at("2024-03-04 10:30:00"))
	h.wantStarts(startRec{"a", at("2024-03-04 10:30:00")})
}

func TestParseOverlap(t *testing.T) {
	for in, want := range map[string]Overlap{"": OverlapQueue, "queue": OverlapQueue, "skip": OverlapSkip} {
		if got, err := ParseOverlap(in); err != nil || got != want {
			t.Errorf("ParseOverlap(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseOverlap("pile"); err == nil {
		t.Error("ParseOverlap(pile): no error")
	}
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(at("2024-03-04 10:00:00"))
	a := c.After(time.Minute)
	b := c.After(time.Second)
	now := c.After(0)
	select {
	case <-now:
	default:
		t.Fatal("After(0) did not fire")
	}
	c.Advance(30 * time.Second)
	select {
	case got := <-b:
		if !got.Equal(at("2024-03-04 10:00:30")) {
			t.Fatalf("b fired with %v", got)
		}
	default:
		t.Fatal("b did not fire")
	}
	select {
	case <-a:
		t.Fatal("a fired early")
	default:
	}
	if c.Waiters() != 1 {
		t.Fatalf("waiters = %d", c.Waiters())
	}
	c.Set(at("2024-03-04 09:00:00")) // backwards: ignored
	if !c.Now().Equal(at("2024-03-04 10:00:30")) {
		t.Fatal("clock went backwards")
	}
	c.Advance(30 * time.Second)
	<-a
}
