package cron

import (
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics and that a parsed schedule
// renders to an equivalent schedule and yields, from any start, either no
// time or a later, matching one.
func FuzzParse(f *testing.F) {
	seeds := []struct{ k1, v1, k2, v2 string }{
		{"hour", "3", "", ""},
		{"minute", "*/5", "second", "30"},
		{"day", "last sun,2nd fri", "hour", "1-5/2"},
		{"day_of_week", "mon-fri", "hour", "9"},
		{"day", "13", "day_of_week", "fri"},
		{"month", "2", "day", "29"},
		{"week", "53", "year", "2026-2030,*/9"},
		{"minute", "5/20", "start_date", "2026-06-15 03:00:00.5"},
		{"hour", "25", "month", "jan"},
		{"day_of_week", "Sat, 0-2", "day", "LAST"},
		{"start_date", "2026-01-01", "second", "*"},
	}
	for i, s := range seeds {
		f.Add(s.k1, s.v1, s.k2, s.v2, int64(1767225600+i*86400*37), i%2 == 0)
	}
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		f.Skipf("no tz data: %v", err)
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, unix int64, inZurich bool) {
		fields := map[string]string{k1: v1}
		if k2 != "" {
			fields[k2] = v2
		}
		s, err := Parse(fields)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse(%q) returned both %v and %v", fields, s, err)
			}
			return
		}
		r := s.String()
		again, err := Parse(splitRendering(t, r))
		if err != nil || again.String() != r {
			t.Fatalf("Parse(%q).String() = %q does not parse back: %v, %v", fields, r, again, err)
		}

		// Start anywhere from 1900 to 10100.
		const lo, span = -2208988800, 8200 * 366 * 86400
		loc := time.UTC
		if inZurich {
			loc = zurich
		}
		start := time.Unix(lo+(unix%span+span)%span, unix&0x3fffffff).In(loc)
		next := s.Next(start)
		if next.IsZero() {
			return
		}
		if !next.After(start) || next.Location() != loc || next.Nanosecond() != 0 {
			t.Fatalf("%s: Next(%v) = %v", r, start, next)
		}
		if !refMatch(t, s, next) {
			t.Fatalf("%s: Next(%v) = %v does not match", r, start, next)
		}
	})
}
