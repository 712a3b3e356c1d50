package cron

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		fields map[string]string
		want   string
	}{
		{f("hour", "3"), "year=* month=* day=* week=* day_of_week=* hour=3 minute=0 second=0"},
		{f("day", "1"), "year=* month=* day=1 week=* day_of_week=* hour=0 minute=0 second=0"},
		{f("minute", "*/5"), "year=* month=* day=* week=* day_of_week=* hour=* minute=*/5 second=0"},
		{f("second", "30", "minute", "15", "hour", "*", "day", "*", "month", "*"),
			"year=* month=* day=* week=* day_of_week=* hour=* minute=15 second=30"},
		{f("year", "2030"), "year=2030 month=1 day=1 week=* day_of_week=* hour=0 minute=0 second=0"},
		{f("week", "1"), "year=* month=* day=* week=1 day_of_week=* hour=0 minute=0 second=0"},
		{f("day_of_week", "MON-Fri", "hour", "9"), "year=* month=* day=* week=* day_of_week=mon-fri hour=9 minute=0 second=0"},
		{f("day_of_week", "sat", "month", "6"), "year=* month=6 day=* week=* day_of_week=sat hour=0 minute=0 second=0"},
		{f("month", "2", "day", "29"), "year=* month=2 day=29 week=* day_of_week=* hour=0 minute=0 second=0"},
		{f("second", "*"), "year=* month=* day=* week=* day_of_week=* hour=* minute=* second=*"},
		{f("day", " LAST, 2ND Fri ,last  SUN "), "year=* month=* day=last,2nd fri,last sun week=* day_of_week=* hour=0 minute=0 second=0"},
		{f("minute", "05/20", "hour", "5-5", "second", "5-5/2"), "year=* month=* day=* week=* day_of_week=* hour=5 minute=5/20 second=5-5/2"},
		{f("hour", "1-5/2,7,*/9"), "year=* month=* day=* week=* day_of_week=* hour=1-5/2,7,*/9 minute=0 second=0"},
		{f("day_of_week", "0-4,Sun"), "year=* month=* day=* week=* day_of_week=0-4,sun hour=0 minute=0 second=0"},
		{f("hour", "3", "start_date", "2026-06-15"),
			"year=* month=* day=* week=* day_of_week=* hour=3 minute=0 second=0 start_date=2026-06-15 00:00:00"},
		{f("start_date", "2026-6-5 3:04:05"),
			"year=* month=* day=* week=* day_of_week=* hour=* minute=* second=* start_date=2026-06-05 03:04:05"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.fields)
		if err != nil {
			t.Errorf("Parse(%v): %v", tt.fields, err)
			continue
		}
		if got := s.String(); got != tt.want {
			t.Errorf("Parse(%v).String()\n got %s\nwant %s", tt.fields, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		fields map[string]string
		field  string // FieldError.Field
		reason string // substring of FieldError.Reason
	}{
		{f("hours", "3"), "hours", "unknown field (valid fields: year, month, day, week, day_of_week, hour, minute, second, start_date)"},
		{f("hour", "3", "third", "1", "dow", "1"), "dow", "unknown field"},
		{f("hour", ""), "hour", "empty value"},
		{f("hour", "  "), "hour", "empty value"},
		{f("start_date", ""), "start_date", "empty value"},

		{f("year", "1969"), "year", "value 1969 out of range 1970-9999"},
		{f("year", "10000"), "year", "value 10000 out of range 1970-9999"},
		{f("month", "0"), "month", "value 0 out of range 1-12"},
		{f("month", "13"), "month", "value 13 out of range 1-12"},
		{f("day", "0"), "day", "value 0 out of range 1-31"},
		{f("day", "32"), "day", "value 32 out of range 1-31"},
		{f("week", "0"), "week", "value 0 out of range 1-53"},
		{f("week", "54"), "week", "value 54 out of range 1-53"},
		{f("day_of_week", "7"), "day_of_week", "value 7 out of range 0-6"},
		{f("hour", "24"), "hour", "value 24 out of range 0-23"},
		{f("minute", "60"), "minute", "value 60 out of range 0-59"},
		{f("second", "60"), "second", "value 60 out of range 0-59"},
		{f("minute", "0-60"), "minute", "value 60 out of range 0-59"},
		{f("minute", "70/5"), "minute", "value 70 out of range 0-59"},
		{f("minute", "0,75"), "minute", "value 75 out of range 0-59"},
		{f("hour", "99999999999999999999"), "hour", "out of range 0-23"},

		{f("hour", "*/0"), "hour", "step must be at least 1"},
		{f("hour", "1-5/0"), "hour", "step must be at least 1"},
		{f("hour", "5/0"), "hour", "step must be at least 1"},
		{f("hour", "*/99999999999999999999"), "hour", "step 99999999999999999999 too large"},

		{f("hour", "5-3"), "hour", "range start 5 is greater than end 3"},
		{f("day_of_week", "6-0"), "day_of_week", "range start 6 is greater than end 0"},
		{f("day_of_week", "fri-mon"), "day_of_week", "range start fri is after end mon"},

		{f("day_of_week", "moh"), "day_of_week", `invalid weekday name "moh"`},
		{f("day_of_week", "monday"), "day_of_week", `invalid weekday name "monday"`},
		{f("day_of_week", "mon-fre"), "day_of_week", `invalid weekday name "fre"`},
		{f("day_of_week", "last"), "day_of_week", `invalid weekday name "last"`},
		{f("day", "2nd frx"), "day", `invalid weekday name "frx"`},
		{f("day", "2nd 4"), "day", `invalid weekday name "4"`},
		{f("day", "6th fri"), "day", `invalid weekday position "6th"`},
		{f("day", "first fri"), "day", `invalid weekday position "first"`},

		{f("hour", "abc"), "hour", `unrecognized expression "abc"`},
		{f("hour", "mon"), "hour", `unrecognized expression "mon"`},
		{f("hour", "last"), "hour", `unrecognized expression "last"`},
		{f("hour", "1-"), "hour", `unrecognized expression "1-"`},
		{f("hour", "-1"), "hour", `unrecognized expression "-1"`},
		{f("hour", "1--2"), "hour", `unrecognized expression "1--2"`},
		{f("hour", "1-2-3"), "hour", `unrecognized expression "1-2-3"`},
		{f("hour", "*/"), "hour", `unrecognized expression "*/"`},
		{f("hour", "**"), "hour", `unrecognized expression "**"`},
		{f("hour", "*/2/2"), "hour", `unrecognized expression "*/2/2"`},
		{f("hour", "1.5"), "hour", `unrecognized expression "1.5"`},
		{f("hour", "+1"), "hour", `unrecognized expression "+1"`},
		{f("hour", "None"), "hour", `unrecognized expression "None"`},
		{f("minute", "5 10"), "minute", `unrecognized expression "5 10"`},
		{f("minute", "1 - 5"), "minute", `unrecognized expression "1 - 5"`},
		{f("hour", "1,,2"), "hour", "empty expression in list"},
		{f("hour", "1,"), "hour", "empty expression in list"},
		{f("day", "lastly"), "day", `unrecognized expression "lastly"`},
		{f("day", "2nd fri x"), "day", `unrecognized expression "2nd fri x"`},
		{f("day", "mon"), "day", `unrecognized expression "mon"`},
		{f("day_of_week", "mon-fri/2"), "day_of_week", `unrecognized expression "mon-fri/2"`},
		{f("day_of_week", "mon-4"), "day_of_week", `unrecognized expression "mon-4"`},
		{f("week", "last"), "week", `unrecognized expression "last"`},
		{f("month", "jan"), "month", "month names are not supported"},
		{f("month", "Jan-Mar"), "month", "month names are not supported"},

		{f("start_date", "tomorrow"), "start_date", `want "YYYY-MM-DD"`},
		{f("start_date", "2026-01-01T10:00:00"), "start_date", `want "YYYY-MM-DD"`},
		{f("start_date", "2026-01-01 10:00"), "start_date", `want "YYYY-MM-DD"`},
		{f("start_date", "26-01-01"), "start_date", `want "YYYY-MM-DD"`},
		{f("start_date", "2026-02-30"), "start_date", "no such date or time"},
		{f("start_date", "2026-01-01 25:00:00"), "start_date", "no such date or time"},
		{f("start_date", "0000-01-01"), "start_date", "no such date or time"},

		// The first bad field in significance order is reported.
		{f("second", "99", "hour", "99"), "hour", "value 99 out of range 0-23"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.fields)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("Parse(%v) = %v, %v; want *FieldError", tt.fields, s, err)
			continue
		}
		if fe.Field != tt.field || fe.Value != tt.fields[tt.field] || !strings.Contains(fe.Reason, tt.reason) {
			t.Errorf("Parse(%v) = %#v; want field %q, value %q, reason containing %q",
				tt.fields, fe, tt.field, tt.fields[tt.field], tt.reason)
		}
	}
}

func TestParseErrorMessages(t *testing.T) {
	for _, tt := range []struct {
		fields map[string]string
		want   string
	}{
		{map[string]string{}, "schedule is empty"},
		{nil, "schedule is empty"},
		{f("hour", "25"), `schedule field hour="25": value 25 out of range 0-23`},
		{f("day", "last fri,6th fri"), `schedule field day="last fri,6th fri": invalid weekday position "6th" (want one of 1st, 2nd, 3rd, 4th, 5th, last)`},
		{f("hour", "3", "hours", "3"), `schedule field hours="3": unknown field (valid fields: year, month, day, week, day_of_week, hour, minute, second, start_date)`},
	} {
		_, err := Parse(tt.fields)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%v) error = %v, want %s", tt.fields, err, tt.want)
		}
	}
}
