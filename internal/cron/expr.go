package cron

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// expr is one comma-separated item of a field value. next returns the
// smallest value >= the field's current value in c that the expression
// accepts, bounded by the field's limits for c; ok is false if there is
// none (APScheduler's get_next_value returning None).
type expr interface {
	next(id fieldID, c civil) (v int, ok bool)
	String() string
}

var weekdays = [7]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// positions are the "Nth weekday" words; index 5 means the last one.
var positions = [6]string{"1st", "2nd", "3rd", "4th", "5th", "last"}

// stepFrom returns the first value >= start (and >= lo) in lo, lo+step,
// lo+2*step, ... that does not exceed hi. step 0 means every value.
// This is 2.0.3's "distance_to_next" computation.
func stepFrom(start, lo, hi, step int) (int, bool) {
	start = max(start, lo)
	next := start
	if step > 0 {
		next += (step - (start-lo)%step) % step
	}
	return next, next <= hi
}

// allExpr is "*" or "*/step" (AllExpression): steps count from the field
// minimum, so year="*/2" means even years (1970, 1972, ...).
type allExpr struct{ step int }

func (e allExpr) next(id fieldID, c civil) (int, bool) {
	return stepFrom(c.get(id), id.spec().min, fieldMax(id, c), e.step)
}

func (e allExpr) String() string {
	if e.step > 0 {
		return "*/" + strconv.Itoa(e.step)
	}
	return "*"
}

// rangeExpr is "a", "a-b", "a-b/step" or "a/step" (RangeExpression). The
// last form has no upper end: "5/10" on minute means 5,15,...,55.
type rangeExpr struct {
	first, last int
	open        bool // "a/step": no upper end
	step        int
}

func (e rangeExpr) next(id fieldID, c civil) (int, bool) {
	hi := fieldMax(id, c)
	if !e.open {
		hi = min(hi, e.last)
	}
	return stepFrom(c.get(id), max(id.spec().min, e.first), hi, e.step)
}

func (e rangeExpr) String() string {
	var s string
	switch {
	case e.open:
		s = strconv.Itoa(e.first)
	case e.first == e.last && e.step == 0:
		s = strconv.Itoa(e.first)
	default:
		s = fmt.Sprintf("%d-%d", e.first, e.last)
	}
	if e.step > 0 {
		s += "/" + strconv.Itoa(e.step)
	}
	return s
}

// weekdayRangeExpr is "fri" or "mon-fri" on day_of_week
// (WeekdayRangeExpression); it behaves like the numeric range and only
// renders differently.
type weekdayRangeExpr struct{ rangeExpr }

func (e weekdayRangeExpr) String() string {
	if e.first == e.last {
		return weekdays[e.first]
	}
	return weekdays[e.first] + "-" + weekdays[e.last]
}

// weekdayPosExpr is "2nd fri" or "last sun" on day
// (WeekdayPositionExpression).
type weekdayPosExpr struct {
	pos     int // index into positions; 5 = last
	weekday int // Monday = 0
}

func (e weekdayPosExpr) next(_ fieldID, c civil) (int, bool) {
	first := civil{year: c.year, month: c.month, day: 1}.get(fDayOfWeek)
	last := daysIn(c.year, c.month)
	hit := e.weekday - first + 1 // day of the month of the first such weekday
	if hit <= 0 {
		hit += 7
	}
	var target int
	if e.pos < 5 {
		target = hit + e.pos*7
	} else {
		target = hit + (last-hit)/7*7
	}
	return target, target <= last && target >= c.day
}

func (e weekdayPosExpr) String() string {
	return positions[e.pos] + " " + weekdays[e.weekday]
}

// lastDayExpr is "last" on day (LastDayOfMonthExpression).
type lastDayExpr struct{}

func (lastDayExpr) next(_ fieldID, c civil) (int, bool) {
	return daysIn(c.year, c.month), true
}

func (lastDayExpr) String() string { return "last" }

// The expression grammars of 2.0.3, anchored at both ends. 2.0.3 anchors
// only some of them, so it silently ignores trailing text after a weekday
// ("mon-fri/2" is mon-fri) or after "last" ("lastly"); we reject that.
var (
	allRe          = regexp.MustCompile(`^\*(?:/(\d+))?$`)
	rangeRe        = regexp.MustCompile(`^(\d+)(?:-(\d+))?(?:/(\d+))?$`)
	weekdayRangeRe = regexp.MustCompile(`^([A-Za-z]+)(?:-([A-Za-z]+))?$`)
	positionRe     = regexp.MustCompile(`^(\S+)\s+(\S+)$`)
)

// parseExpr compiles one list item for field id. The returned error is the
// reason part of a FieldError.
func parseExpr(id fieldID, item string) (expr, error) {
	sp := id.spec()
	if item == "" {
		return nil, fmt.Errorf("empty expression in list")
	}
	if m := allRe.FindStringSubmatch(item); m != nil {
		step, err := parseStep(m[1])
		if err != nil {
			return nil, err
		}
		return allExpr{step}, nil
	}
	if m := rangeRe.FindStringSubmatch(item); m != nil {
		e := rangeExpr{open: m[2] == "" && m[3] != ""}
		var err error
		if e.first, err = parseValue(sp, m[1]); err != nil {
			return nil, err
		}
		e.last = e.first
		if m[2] != "" {
			if e.last, err = parseValue(sp, m[2]); err != nil {
				return nil, err
			}
		}
		if e.step, err = parseStep(m[3]); err != nil {
			return nil, err
		}
		if e.first > e.last {
			return nil, fmt.Errorf("range start %d is greater than end %d", e.first, e.last)
		}
		return e, nil
	}
	switch id {
	case fDay:
		if strings.EqualFold(item, "last") {
			return lastDayExpr{}, nil
		}
		if m := positionRe.FindStringSubmatch(item); m != nil {
			return parsePosition(m[1], m[2])
		}
	case fDayOfWeek:
		if m := weekdayRangeRe.FindStringSubmatch(item); m != nil {
			return parseWeekdayRange(m[1], m[2])
		}
	case fMonth:
		if weekdayRangeRe.MatchString(item) {
			return nil, fmt.Errorf("unrecognized expression %q (month names are not supported by APScheduler 2.0.3; use 1-12)", item)
		}
	}
	return nil, fmt.Errorf("unrecognized expression %q", item)
}

func parseValue(sp *fieldSpec, s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < sp.min || v > sp.max {
		return 0, fmt.Errorf("value %s out of range %d-%d", s, sp.min, sp.max)
	}
	return v, nil
}

// parseStep parses an optional step. 2.0.3 rejects 0 but accepts steps
// larger than the field's span (they select just the first value).
func parseStep(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > 1<<31-1 {
		return 0, fmt.Errorf("step %s too large", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("step must be at least 1")
	}
	return v, nil
}

func weekdayIndex(name string) (int, error) {
	for i, w := range weekdays {
		if strings.EqualFold(name, w) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("invalid weekday name %q (want one of %s)", name, strings.Join(weekdays[:], ", "))
}

func parseWeekdayRange(first, last string) (expr, error) {
	f, err := weekdayIndex(first)
	if err != nil {
		return nil, err
	}
	l := f
	if last != "" {
		if l, err = weekdayIndex(last); err != nil {
			return nil, err
		}
	}
	if f > l {
		return nil, fmt.Errorf("range start %s is after end %s (weeks start on monday)", weekdays[f], weekdays[l])
	}
	return weekdayRangeExpr{rangeExpr{first: f, last: l}}, nil
}

func parsePosition(pos, weekday string) (expr, error) {
	p := -1
	for i, name := range positions {
		if strings.EqualFold(pos, name) {
			p = i
		}
	}
	if p < 0 {
		return nil, fmt.Errorf("invalid weekday position %q (want one of %s)", pos, strings.Join(positions[:], ", "))
	}
	w, err := weekdayIndex(weekday)
	if err != nil {
		return nil, err
	}
	return weekdayPosExpr{pos: p, weekday: w}, nil
}
