package cron

import (
	"testing"
	"time"
)

// Schedule must satisfy robfig/cron's Schedule interface.
var _ interface{ Next(time.Time) time.Time } = (*Schedule)(nil)

// Expected times were worked out by hand from a calendar and cross-checked
// with APScheduler 2.0.3's CronTrigger.get_next_fire_time(after + 1µs).
func TestNext(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]string
		after  string
		want   []string // successive fire times; "" = none
	}{
		{"daily at 3", f("hour", "3"), "2026-01-01 00:00:00",
			[]string{"2026-01-01 03:00:00", "2026-01-02 03:00:00"}},
		{"int value stringified", f("hour", "5", "minute", "30"), "2026-01-01 06:00:00",
			[]string{"2026-01-02 05:30:00", "2026-01-03 05:30:00"}},
		{"first of month", f("day", "1"), "2026-01-15 12:00:00",
			[]string{"2026-02-01 00:00:00", "2026-03-01 00:00:00"}},
		{"every 5 minutes", f("minute", "*/5"), "2026-01-01 10:02:30",
			[]string{"2026-01-01 10:05:00", "2026-01-01 10:10:00"}},
		{"hourly at 15:30", f("second", "30", "minute", "15", "hour", "*", "day", "*", "month", "*"), "2026-01-01 10:00:00",
			[]string{"2026-01-01 10:15:30", "2026-01-01 11:15:30"}},
		{"hourly at 15:30, at a fire time", f("second", "30", "minute", "15", "hour", "*", "day", "*", "month", "*"), "2026-12-31 23:15:30",
			[]string{"2027-01-01 00:15:30"}},
		{"weekdays at 9", f("day_of_week", "mon-fri", "hour", "9"), "2026-01-01 09:00:00", // a Thursday
			[]string{"2026-01-02 09:00:00", "2026-01-05 09:00:00", "2026-01-06 09:00:00"}},
		{"monday is 0", f("day_of_week", "0"), "2026-01-01 00:00:00",
			[]string{"2026-01-05 00:00:00", "2026-01-12 00:00:00"}},
		{"sunday is 6", f("day_of_week", "6"), "2026-01-01 00:00:00",
			[]string{"2026-01-04 00:00:00"}},
		{"weekday name any case", f("day_of_week", "Sat"), "2026-01-01 00:00:00",
			[]string{"2026-01-03 00:00:00", "2026-01-10 00:00:00"}},
		{"last day of month", f("day", "last"), "2026-01-31 00:00:00",
			[]string{"2026-02-28 00:00:00", "2026-03-31 00:00:00", "2026-04-30 00:00:00"}},
		{"last day of leap february", f("day", "last"), "2028-02-01 00:00:00",
			[]string{"2028-02-29 00:00:00"}},
		{"second friday", f("day", "2nd fri"), "2026-01-01 00:00:00",
			[]string{"2026-01-09 00:00:00", "2026-02-13 00:00:00", "2026-03-13 00:00:00"}},
		{"fifth friday", f("day", "5th fri"), "2026-01-01 00:00:00",
			[]string{"2026-01-30 00:00:00", "2026-05-29 00:00:00"}},
		{"last sunday", f("day", "last sun"), "2026-01-01 00:00:00",
			[]string{"2026-01-25 00:00:00", "2026-02-22 00:00:00", "2026-03-29 00:00:00"}},
		{"friday the 13th (AND, not OR)", f("day", "13", "day_of_week", "fri"), "2026-01-01 00:00:00",
			[]string{"2026-02-13 00:00:00", "2026-03-13 00:00:00", "2026-11-13 00:00:00"}},
		{"february 29", f("month", "2", "day", "29"), "2026-01-01 00:00:00",
			[]string{"2028-02-29 00:00:00", "2032-02-29 00:00:00"}},
		{"iso week 1 (2026 has 53 weeks)", f("week", "1"), "2026-01-01 00:00:00",
			[]string{"2026-01-02 00:00:00", "2026-01-03 00:00:00", "2026-01-04 00:00:00", "2027-01-04 00:00:00"}},
		{"iso week 1 starting in december", f("week", "1"), "2024-12-01 00:00:00",
			[]string{"2024-12-30 00:00:00", "2024-12-31 00:00:00", "2025-01-01 00:00:00"}},
		{"future year", f("year", "2030"), "2026-05-05 00:00:00",
			[]string{"2030-01-01 00:00:00", ""}},
		{"past year", f("year", "2020"), "2026-01-01 00:00:00",
			[]string{""}},
		{"even years", f("year", "*/2"), "2026-01-01 00:00:00",
			[]string{"2028-01-01 00:00:00", "2030-01-01 00:00:00"}},
		{"every 15 minutes", f("minute", "*/15"), "2026-01-01 10:50:00",
			[]string{"2026-01-01 11:00:00", "2026-01-01 11:15:00"}},
		{"hour range with step", f("hour", "1-5/2"), "2026-01-01 03:00:00",
			[]string{"2026-01-01 05:00:00", "2026-01-02 01:00:00", "2026-01-02 03:00:00"}},
		{"a/n runs to the field maximum", f("minute", "5/20"), "2026-01-01 10:40:00",
			[]string{"2026-01-01 10:45:00", "2026-01-01 11:05:00", "2026-01-01 11:25:00"}},
		{"star step counts from the minimum", f("day", "*/10"), "2026-01-21 00:00:00",
			[]string{"2026-01-31 00:00:00", "2026-02-01 00:00:00", "2026-02-11 00:00:00"}},
		{"list", f("minute", "0,30"), "2026-01-01 10:10:00",
			[]string{"2026-01-01 10:30:00", "2026-01-01 11:00:00"}},
		{"list with spaces", f("minute", " 30 , 0 "), "2026-01-01 10:10:00",
			[]string{"2026-01-01 10:30:00", "2026-01-01 11:00:00"}},
		{"every second (all fields *)", f("second", "*"), "2026-12-31 23:59:59",
			[]string{"2027-01-01 00:00:00", "2027-01-01 00:00:01"}},
		{"start_date date", f("hour", "3", "start_date", "2026-06-15"), "2026-01-01 00:00:00",
			[]string{"2026-06-15 03:00:00", "2026-06-16 03:00:00"}},
		{"start_date is inclusive", f("hour", "3", "start_date", "2026-06-15 03:00:00"), "2026-01-01 00:00:00",
			[]string{"2026-06-15 03:00:00"}},
		{"start_date fraction rounds up", f("hour", "3", "start_date", "2026-06-15 03:00:00.5"), "2026-01-01 00:00:00",
			[]string{"2026-06-16 03:00:00"}},
		{"start_date in the past", f("hour", "3", "start_date", "2020-01-01 00:00:00"), "2026-01-01 00:00:00",
			[]string{"2026-01-01 03:00:00"}},
		{"only start_date: every second from it", f("start_date", "2026-06-15 12:00:00"), "2026-01-01 00:00:00",
			[]string{"2026-06-15 12:00:00", "2026-06-15 12:00:01"}},
		{"before 1970 jumps to 1970", f("hour", "3"), "1960-05-05 00:00:00",
			[]string{"1970-01-01 03:00:00"}},
		{"last second of 9999", f("second", "*"), "9999-12-31 23:59:58",
			[]string{"9999-12-31 23:59:59", ""}},
		{"impossible date", f("month", "2", "day", "30"), "2026-01-01 00:00:00",
			[]string{""}},
		{"impossible week and month", f("week", "1", "month", "6"), "2026-01-01 00:00:00",
			[]string{""}},
		{"impossible with year steps", f("year", "2026-2030,*/9", "week", "53", "day", "last sun", "hour", "12"), "2026-01-01 00:00:00",
			[]string{""}},
		{"leap day on a monday", f("month", "2", "day", "29", "day_of_week", "mon"), "2026-01-01 00:00:00",
			[]string{"2044-02-29 00:00:00", "2072-02-29 00:00:00", "2112-02-29 00:00:00"}},
		{"far future open year range", f("year", "2500/7", "month", "2", "day", "29", "day_of_week", "mon"), "2026-01-01 00:00:00",
			[]string{"3312-02-29 00:00:00", "3340-02-29 00:00:00", "3368-02-29 00:00:00"}},
		{"closed and open year ranges", f("year", "1970-2025,2100/3", "month", "2", "day", "29", "day_of_week", "sun"), "2026-01-01 00:00:00",
			[]string{"2184-02-29 00:00:00", "2280-02-29 00:00:00", "2376-02-29 00:00:00"}},

		// The test cases of APScheduler 2.0.3 (tests/testtriggers.py), with
		// "after" one second before its inclusive start time.
		{"2.0.3 cron_trigger_1", f("year", "2009/2", "month", "1/3", "day", "5-13"), "2008-11-30 23:59:59",
			[]string{"2009-01-05 00:00:00"}},
		{"2.0.3 cron_trigger_2", f("year", "2009/2", "month", "1/3", "day", "5-13"), "2009-10-13 23:59:59",
			[]string{"2011-01-05 00:00:00"}},
		{"2.0.3 cron_trigger_3", f("year", "2009", "month", "2", "hour", "8-10"), "2008-12-31 23:59:59",
			[]string{"2009-02-01 08:00:00"}},
		{"2.0.3 cron_trigger_4", f("year", "2012", "month", "2", "day", "last"), "2012-01-31 23:59:59",
			[]string{"2012-02-29 00:00:00"}},
		{"2.0.3 year_list", f("year", "2009,2008"), "2008-12-31 23:59:59",
			[]string{"2009-01-01 00:00:00", ""}},
		{"2.0.3 start_date", f("year", "2009", "month", "2", "hour", "8-10", "start_date", "2009-02-03 11:00:00"), "2008-12-31 23:59:59",
			[]string{"2009-02-04 08:00:00"}},
		{"2.0.3 weekday_overlap", f("year", "2009", "month", "1", "day", "6-10", "day_of_week", "2-4"), "2008-12-31 23:59:59",
			[]string{"2009-01-07 00:00:00"}},
		{"2.0.3 weekday_nomatch", f("year", "2009", "month", "1", "day", "6-10", "day_of_week", "0,6"), "2008-12-31 23:59:59",
			[]string{""}},
		{"2.0.3 weekday_positional", f("year", "2009", "month", "1", "day", "4th wed"), "2008-12-31 23:59:59",
			[]string{"2009-01-28 00:00:00"}},
		{"2.0.3 week_1", f("year", "2009", "month", "2", "week", "8"), "2008-12-31 23:59:59",
			[]string{"2009-02-16 00:00:00"}},
		{"2.0.3 week_2", f("year", "2009", "week", "15", "day_of_week", "2"), "2008-12-31 23:59:59",
			[]string{"2009-04-08 00:00:00"}},
		{"2.0.3 extra_coverage", f("day", "6,8"), "2009-12-30 23:59:59",
			[]string{"2010-01-06 00:00:00"}},
		{"2.0.3 increment_weekday", f("hour", "5-6"), "2009-09-25 06:59:59",
			[]string{"2009-09-26 05:00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.fields)
			if err != nil {
				t.Fatalf("Parse(%v): %v", tt.fields, err)
			}
			prev := mustUTC(t, tt.after)
			for i, w := range tt.want {
				got := s.Next(prev)
				if w == "" {
					if !got.IsZero() {
						t.Fatalf("Next #%d after %v = %v, want none", i+1, prev, got)
					}
					return
				}
				if want := mustUTC(t, w); !got.Equal(want) {
					t.Fatalf("Next #%d after %v = %v, want %v (%s)", i+1, prev, got, want, s)
				}
				prev = got
			}
		})
	}
}

func TestNextSubSecond(t *testing.T) {
	s, err := Parse(f("second", "*"))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	want := time.Date(2026, 1, 1, 10, 0, 1, 0, time.UTC)
	for _, after := range []time.Time{base, base.Add(time.Nanosecond), base.Add(500 * time.Millisecond), base.Add(time.Second - 1)} {
		if got := s.Next(after); !got.Equal(want) {
			t.Errorf("Next(%v) = %v, want %v", after.Format(time.RFC3339Nano), got, want)
		}
	}
}

func TestNextKeepsLocation(t *testing.T) {
	s, err := Parse(f("hour", "3"))
	if err != nil {
		t.Fatal(err)
	}
	loc := time.FixedZone("UTC+5", 5*3600)
	got := s.Next(time.Date(2026, 1, 1, 12, 0, 0, 0, loc))
	want := time.Date(2026, 1, 1, 22, 0, 0, 0, time.UTC) // 03:00 on Jan 2 at UTC+5
	if !got.Equal(want) || got.Location() != loc {
		t.Errorf("Next = %v, want %v in %v", got, want, loc)
	}
}

// TestNextDST checks fire times around Europe/Zurich's 2026 transitions:
// 2026-03-29 02:00 CET -> 03:00 CEST (02:xx does not exist) and
// 2026-10-25 03:00 CEST -> 02:00 CET (02:xx happens twice).
func TestNextDST(t *testing.T) {
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Skipf("no tz data: %v", err)
	}
	utc := func(s string) time.Time { return mustUTC(t, s) }
	tests := []struct {
		name   string
		fields map[string]string
		after  time.Time // instant
		want   []time.Time
	}{
		{"daily 02:30 skips the missing day", f("hour", "2", "minute", "30"), utc("2026-03-28 01:30:00"), // 02:30 CET
			[]time.Time{utc("2026-03-30 00:30:00")}}, // 02:30 CEST
		{"quarter hours continue after the gap", f("minute", "*/15"), utc("2026-03-29 00:45:00"), // 01:45 CET
			[]time.Time{utc("2026-03-29 01:00:00"), utc("2026-03-29 01:15:00")}}, // 03:00, 03:15 CEST
		{"every second across the gap", f("second", "*"), utc("2026-03-29 00:59:59"), // 01:59:59 CET
			[]time.Time{utc("2026-03-29 01:00:00")}}, // 03:00:00 CEST
		{"hourly fires once in the repeated hour", f("minute", "30"), utc("2026-10-24 23:30:00"), // 01:30 CEST
			[]time.Time{utc("2026-10-25 00:30:00"), utc("2026-10-25 02:30:00")}}, // 02:30 CEST, 03:30 CET
		{"daily 02:30 fires on the first occurrence only", f("hour", "2", "minute", "30"), utc("2026-10-24 00:30:00"), // 02:30 CEST
			[]time.Time{utc("2026-10-25 00:30:00"), utc("2026-10-26 01:30:00")}}, // 02:30 CEST, 02:30 CET
		{"started in the repeated hour", f("minute", "*/15"), utc("2026-10-25 01:30:00"), // 02:30 CET
			[]time.Time{utc("2026-10-25 01:45:00"), utc("2026-10-25 02:00:00")}}, // 02:45, 03:00 CET
		{"every second across the overlap", f("second", "*"), utc("2026-10-25 00:59:59"), // 02:59:59 CEST
			[]time.Time{utc("2026-10-25 02:00:00")}}, // 03:00:00 CET
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			prev := tt.after.In(zurich)
			for i, want := range tt.want {
				got := s.Next(prev)
				if !got.Equal(want) || got.Location() != zurich {
					t.Fatalf("Next #%d after %v = %v, want %v", i+1, prev, got, want.In(zurich))
				}
				prev = got
			}
		})
	}
}

// f builds a field map from key, value pairs.
func f(kv ...string) map[string]string {
	m := make(map[string]string)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestCalendar checks the calendar arithmetic against package time for
// every day from 1900 to 2500.
func TestCalendar(t *testing.T) {
	for d := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2500; d = d.AddDate(0, 0, 1) {
		y, m, day := d.Date()
		_, wantWeek := d.ISOWeek()
		days := daysFromCivil(y, int(m), day)
		if days != int(d.Unix()/86400) || weekday(days) != (int(d.Weekday())+6)%7 ||
			isoWeek(y, int(m), day) != wantWeek || daysIn(y, int(m)) != time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() {
			t.Fatalf("%v: days %d weekday %d week %d (want %d) daysIn %d", d.Format(time.DateOnly),
				days, weekday(days), isoWeek(y, int(m), day), wantWeek, daysIn(y, int(m)))
		}
	}
}
