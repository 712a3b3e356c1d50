package cron

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file holds a reference matcher for tests: it interprets the
// effective fields from String() value by value, independently of the
// expression types and the search algorithm of the package.

var refNames = []string{"year", "month", "day", "week", "day_of_week", "hour", "minute", "second", "start_date"}

// splitRendering turns a String() rendering back into its fields.
func splitRendering(t testing.TB, r string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	rest := " " + r
	for i, name := range refNames {
		key := " " + name + "="
		if !strings.HasPrefix(rest, key) {
			if name == "start_date" && rest == "" {
				break
			}
			t.Fatalf("rendering %q: want %q at %q", r, key, rest)
		}
		rest = rest[len(key):]
		end := len(rest)
		if i+1 < len(refNames) {
			if j := strings.Index(rest, " "+refNames[i+1]+"="); j >= 0 {
				end = j
			}
		}
		out[name], rest = rest[:end], rest[end:]
	}
	return out
}

// refMatch reports whether the wall clock of tm satisfies every field of
// schedule s (start_date is not checked).
func refMatch(t testing.TB, s *Schedule, tm time.Time) bool {
	t.Helper()
	return refMatcher(t, s)(tm)
}

// refMatcher returns refMatch for s, parsing its rendering only once.
func refMatcher(t testing.TB, s *Schedule) func(time.Time) bool {
	t.Helper()
	fields := splitRendering(t, s.String())
	items := make(map[string][]string)
	for _, name := range refNames[:8] {
		items[name] = strings.Split(fields[name], ",")
	}
	return func(tm time.Time) bool { return refMatchItems(t, items, tm) }
}

func refMatchItems(t testing.TB, items map[string][]string, tm time.Time) bool {
	y, mo, d := tm.Date()
	h, mi, sec := tm.Clock()
	_, week := tm.ISOWeek()
	wd := (int(tm.Weekday()) + 6) % 7
	monthLen := time.Date(y, mo+1, 0, 0, 0, 0, 0, time.UTC).Day()
	values := map[string][3]int{ // value, min, max
		"year": {y, 1970, 9999}, "month": {int(mo), 1, 12}, "day": {d, 1, monthLen},
		"week": {week, 1, 53}, "day_of_week": {wd, 0, 6},
		"hour": {h, 0, 23}, "minute": {mi, 0, 59}, "second": {sec, 0, 59},
	}
	for _, name := range refNames[:8] {
		v := values[name]
		ok := false
		for _, item := range items[name] {
			if refItem(t, item, v[0], v[1], v[2], wd, d, monthLen) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func refItem(t testing.TB, item string, v, lo, hi, wd, day, monthLen int) bool {
	atoi := func(s string) int {
		if i := strings.Index("montuewedthufrisatsun", s); len(s) == 3 && i >= 0 && i%3 == 0 {
			return i / 3
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("reference matcher: bad number %q in %q", s, item)
		}
		return n
	}
	if item == "last" {
		return v == monthLen
	}
	if pos, name, ok := strings.Cut(item, " "); ok {
		if wd != atoi(name) {
			return false
		}
		if pos == "last" {
			return day+7 > monthLen
		}
		return (day-1)/7+1 == atoi(pos[:1])
	}
	rng, stepStr, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		step = atoi(stepStr)
	}
	first, last := lo, hi
	switch a, b, isRange := strings.Cut(rng, "-"); {
	case rng == "*":
	case isRange:
		first, last = atoi(a), atoi(b)
	case hasStep: // "a/n": from a to the maximum
		first = atoi(a)
	default:
		first, last = atoi(a), atoi(a)
	}
	return v >= first && v <= last && (v-first)%step == 0
}

var invariantSchedules = []map[string]string{
	f("hour", "3"),
	f("second", "30", "minute", "15", "hour", "*", "day", "*", "month", "*"),
	f("minute", "*/5"),
	f("second", "*/7", "minute", "*/13"),
	f("day_of_week", "mon-fri", "hour", "9"),
	f("day", "last,2nd fri,13", "hour", "6-8/2"),
	f("day", "last sun", "minute", "5/20"),
	f("day", "13", "day_of_week", "fri"),
	f("month", "2", "day", "29"),
	f("week", "1,27-29/2", "day_of_week", "sat,sun", "minute", "0,30"),
	f("month", "*/5", "day", "*/10", "hour", "1-5/2"),
	f("year", "2026-2030,*/9", "day", "5th mon,1st tue", "second", "59"),
	f("day_of_week", "0,6", "day", "1-7", "hour", "2", "minute", "30"),
}

// TestNextIncreasingAndMatching follows each schedule for 1000 fire times,
// in UTC and in a zone with DST.
func TestNextIncreasingAndMatching(t *testing.T) {
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Skipf("no tz data: %v", err)
	}
	for _, loc := range []*time.Location{time.UTC, zurich} {
		for _, fields := range invariantSchedules {
			s, err := Parse(fields)
			if err != nil {
				t.Fatalf("Parse(%v): %v", fields, err)
			}
			prev := time.Date(2025, 12, 30, 23, 59, 58, 999, loc)
			for i := range 1000 {
				next := s.Next(prev)
				if next.IsZero() {
					if i < 10 {
						t.Errorf("%v in %v: only %d fire times after 2026", fields, loc, i)
					}
					break
				}
				if !next.After(prev) || next.Location() != loc || next.Nanosecond() != 0 {
					t.Fatalf("%v in %v: Next(%v) = %v", fields, loc, prev, next)
				}
				if !refMatch(t, s, next) {
					t.Fatalf("%v in %v: Next(%v) = %v does not match %s", fields, loc, prev, next, s)
				}
				prev = next
			}
		}
	}
}

// TestNextBruteForce checks, in UTC, that Next finds every matching time by
// comparing against a scan of all candidate times in a window.
func TestNextBruteForce(t *testing.T) {
	tests := []struct {
		fields map[string]string
		step   time.Duration // scan step; coarser fields are defaulted to 0
		window time.Duration
	}{
		{f("second", "*/7", "minute", "*/13"), time.Second, 3 * time.Hour},
		{f("second", "58-59,0", "minute", "59,0", "hour", "23,0"), time.Second, 50 * time.Hour},
		{f("minute", "*/15", "hour", "1-5/2", "day_of_week", "mon-fri"), time.Minute, 15 * 24 * time.Hour},
		{f("week", "1,27-29/2", "day_of_week", "sat,sun", "minute", "0,30"), time.Minute, 60 * 24 * time.Hour},
		{f("day", "last,2nd fri,13", "day_of_week", "0-3,fri"), 24 * time.Hour, 6 * 366 * 24 * time.Hour},
		{f("month", "2,3", "day", "last sun,29,1st mon", "week", "*/2"), 24 * time.Hour, 30 * 366 * 24 * time.Hour},
		{f("year", "2027,2029/3", "month", "1/4", "day", "5th fri,last"), 24 * time.Hour, 30 * 366 * 24 * time.Hour},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		s, err := Parse(tt.fields)
		if err != nil {
			t.Fatalf("Parse(%v): %v", tt.fields, err)
		}
		var want []time.Time
		match := refMatcher(t, s)
		for c := start.Add(tt.step); c.Before(start.Add(tt.window)); c = c.Add(tt.step) {
			if match(c) {
				want = append(want, c)
			}
		}
		if len(want) < 5 {
			t.Fatalf("%v: only %d matches in the window; test is too weak", tt.fields, len(want))
		}
		prev := start
		for _, w := range want {
			got := s.Next(prev)
			if !got.Equal(w) {
				t.Fatalf("%v: Next(%v) = %v, want %v", tt.fields, prev, got, w)
			}
			prev = got
		}
	}
}
