package cron

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Schedule is a parsed APScheduler 2.0.3 cron trigger. It is immutable, so
// Next may be called from several goroutines.
type Schedule struct {
	fields   [numFields][]expr
	start    civil // "no fire before", wall clock; valid if hasStart
	hasStart bool
	// From year cycleFrom on, the schedule repeats every cycle years
	// (0: no usable cycle); see yearCycle.
	cycleFrom, cycle int
}

// FieldError reports an invalid schedule key or value, so the definition
// loader can point at the offending key. Invalid are values APScheduler
// 2.0.3 rejected and, stricter than 2.0.3, values it accepted only by
// ignoring part of them ("mon-fri/2") or that can never occur (hour=25).
type FieldError struct {
	Field  string // key as given, e.g. "hour"
	Value  string // value as given
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("schedule field %s=%q: %s", e.Field, e.Value, e.Reason)
}

const startDateKey = "start_date"

var validKeys = func() string {
	names := make([]string, 0, numFields+1)
	for _, sp := range specs {
		names = append(names, sp.name)
	}
	return strings.Join(append(names, startDateKey), ", ")
}()

// Parse builds a schedule from APScheduler 2.0.3 cron trigger keyword arguments.
// Keys: year month day week day_of_week hour minute second start_date. Values are the
// Python values as strings (the caller stringifies ints: 5 -> "5"). Unknown key or bad value: error.
//
// Errors are *FieldError, reported for the first offending key in a fixed
// order (unknown keys alphabetically, then fields from year to second, then
// start_date) so that messages are reproducible.
func Parse(fields map[string]string) (*Schedule, error) {
	if len(fields) == 0 {
		return nil, errors.New("schedule is empty")
	}
	var unknown []string
	for k := range fields {
		if k != startDateKey && fieldByName(k) < 0 {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, &FieldError{Field: unknown[0], Value: fields[unknown[0]],
			Reason: "unknown field (valid fields: " + validKeys + ")"}
	}

	// The least significant given field decides where defaults start:
	// more significant omitted fields are "*", less significant ones take
	// their DEFAULT_VALUES (CronTrigger.__init__'s assign_defaults). With
	// only start_date given, every field is "*".
	lastGiven := fieldID(-1)
	for id := range numFields {
		if _, ok := fields[id.spec().name]; ok {
			lastGiven = id
		}
	}

	s := &Schedule{}
	for id := range numFields {
		sp := id.spec()
		value, given := fields[sp.name]
		if !given {
			value = "*"
			if lastGiven >= 0 && id > lastGiven {
				value = sp.def
			}
		}
		exprs, err := parseField(id, value)
		if err != nil {
			return nil, &FieldError{Field: sp.name, Value: value, Reason: err.Error()}
		}
		s.fields[id] = exprs
	}
	s.cycleFrom, s.cycle = yearCycle(s.fields[fYear])

	if v, ok := fields[startDateKey]; ok {
		start, err := parseStartDate(v)
		if err != nil {
			return nil, &FieldError{Field: startDateKey, Value: v, Reason: err.Error()}
		}
		s.start, s.hasStart = start, true
	}
	return s, nil
}

// yearCycle finds a period after which the set of matching wall times
// repeats, so that Next can stop searching for a schedule that never fires
// well before year 9999. The Gregorian calendar, weekdays and ISO weeks
// included, repeats every 400 years; the year field, from some year on,
// every lcm of its steps. It returns 0, 0 if the field matches only
// finitely many years (the search then ends after the last one anyway) or
// the combined period is too long to help.
func yearCycle(exprs []expr) (from, period int) {
	from, period = specs[fYear].min, 400
	periodic := false
	for _, e := range exprs {
		switch e := e.(type) {
		case allExpr:
			periodic = true
			period = lcm(period, max(e.step, 1))
		case rangeExpr:
			if e.open {
				periodic = true
				period = lcm(period, e.step)
				from = max(from, e.first)
			} else {
				from = max(from, e.last+1)
			}
		}
		if period > specs[fYear].max {
			return 0, 0
		}
	}
	if !periodic {
		return 0, 0
	}
	return from, period
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

func fieldByName(name string) fieldID {
	for id := range numFields {
		if id.spec().name == name {
			return id
		}
	}
	return -1
}

// parseField splits a value into its comma-separated expressions. 2.0.3
// strips only the whole value; like APScheduler 3 we also trim around each
// item, which accepts "0, 30" and changes the meaning of nothing 2.0.3
// accepted.
func parseField(id fieldID, value string) ([]expr, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, errors.New("empty value")
	}
	var exprs []expr
	for item := range strings.SplitSeq(value, ",") {
		e, err := parseExpr(id, strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
	}
	return exprs, nil
}

// startDateRe is util._DATE_REGEX of 2.0.3 (what str() of a Python date or
// datetime produces), anchored at the end.
var startDateRe = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?)?$`)

// parseStartDate returns the earliest wall-clock time a fire may have.
// Fractional seconds round up, as 2.0.3 applies datetime_ceil to it.
func parseStartDate(v string) (civil, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return civil{}, errors.New("empty value")
	}
	m := startDateRe.FindStringSubmatch(v)
	if m == nil {
		return civil{}, errors.New(`want "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS[.ffffff]"`)
	}
	var n [6]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1]) // empty time parts are 0
	}
	c := civil{n[0], n[1], n[2], n[3], n[4], n[5]}
	if c.year < 1 || civilOf(c.utc()) != c {
		return civil{}, errors.New("no such date or time")
	}
	if strings.Trim(m[7], "0") != "" {
		c = c.addSeconds(1)
	}
	return c, nil
}

// String renders all eight effective fields (defaults included) in
// significance order, plus start_date if set, e.g.
// "year=* month=* day=* week=* day_of_week=* hour=3 minute=0 second=0".
// Expressions are normalised (weekday names lower case, no leading zeros)
// so equal schedules render equally.
func (s *Schedule) String() string {
	var b strings.Builder
	for id := range numFields {
		if id > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id.spec().name)
		b.WriteByte('=')
		for i, e := range s.fields[id] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(e.String())
		}
	}
	if s.hasStart {
		b.WriteString(" start_date=" + s.start.String())
	}
	return b.String()
}
