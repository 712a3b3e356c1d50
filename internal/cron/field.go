package cron

import "time"

// fieldID indexes the eight cron fields from most to least significant,
// the order in which APScheduler 2.0.3 walks them.
type fieldID int

const (
	fYear fieldID = iota
	fMonth
	fDay
	fWeek
	fDayOfWeek
	fHour
	fMinute
	fSecond
	numFields
)

// fieldSpec holds the static properties of a field.
type fieldSpec struct {
	name string
	// min and max bound the values an expression may name. APScheduler 2.0.3
	// uses the same minimums; it has no real maximum for year (2**63), but
	// Python's datetime stops at 9999, so that is ours.
	min, max int
	// real fields are components of a date-time and can be set directly;
	// week and day_of_week are derived from the date and can only be
	// reached by stepping the day.
	real bool
	// def is the expression used for an omitted field that is less
	// significant than every given one (DEFAULT_VALUES in 2.0.3).
	def string
}

var specs = [numFields]fieldSpec{
	fYear:      {"year", 1970, 9999, true, "*"},
	fMonth:     {"month", 1, 12, true, "1"},
	fDay:       {"day", 1, 31, true, "1"},
	fWeek:      {"week", 1, 53, false, "*"},
	fDayOfWeek: {"day_of_week", 0, 6, false, "*"},
	fHour:      {"hour", 0, 23, true, "0"},
	fMinute:    {"minute", 0, 59, true, "0"},
	fSecond:    {"second", 0, 59, true, "0"},
}

func (id fieldID) spec() *fieldSpec { return &specs[id] }

// civil is a naive wall-clock date-time, like the naive datetime objects
// APScheduler 2.0.3 computes with. Keeping the search in wall-clock terms
// (and only mapping to an instant at the end) is what makes DST handling
// explicit instead of accidental.
type civil struct {
	year, month, day, hour, minute, second int
}

func civilOf(t time.Time) civil {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return civil{y, int(mo), d, h, mi, s}
}

// utc interprets c as a UTC time, which has no gaps or overlaps; it is used
// for calendar arithmetic and to normalise out-of-range components.
func (c civil) utc() time.Time {
	return time.Date(c.year, time.Month(c.month), c.day, c.hour, c.minute, c.second, 0, time.UTC)
}

func (c civil) addSeconds(n int) civil {
	return civilOf(c.utc().Add(time.Duration(n) * time.Second))
}

func (c civil) before(o civil) bool {
	a := [6]int{c.year, c.month, c.day, c.hour, c.minute, c.second}
	b := [6]int{o.year, o.month, o.day, o.hour, o.minute, o.second}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func (c civil) String() string {
	return c.utc().Format(time.DateTime)
}

// get returns the value of field id for c. week and day_of_week are
// derived: ISO week number and weekday with Monday = 0, as in Python's
// date.isocalendar()[1] and date.weekday().
func (c civil) get(id fieldID) int {
	switch id {
	case fYear:
		return c.year
	case fMonth:
		return c.month
	case fDay:
		return c.day
	case fWeek:
		return isoWeek(c.year, c.month, c.day)
	case fDayOfWeek:
		return weekday(daysFromCivil(c.year, c.month, c.day))
	case fHour:
		return c.hour
	case fMinute:
		return c.minute
	default:
		return c.second
	}
}

// set sets a real field; it must not be called for week or day_of_week.
func (c *civil) set(id fieldID, v int) {
	switch id {
	case fYear:
		c.year = v
	case fMonth:
		c.month = v
	case fDay:
		c.day = v
	case fHour:
		c.hour = v
	case fMinute:
		c.minute = v
	case fSecond:
		c.second = v
	default:
		panic("cron: set on derived field " + id.spec().name)
	}
}

// fieldMax is the largest value field id can take in c's month: the real
// month length for day (calendar.monthrange in 2.0.3), the static maximum
// otherwise.
func fieldMax(id fieldID, c civil) int {
	if id == fDay {
		return daysIn(c.year, c.month)
	}
	return id.spec().max
}

// The calendar helpers below are plain arithmetic because the search
// evaluates them once per candidate day, for up to 8000 years when a
// schedule can never fire.

func daysIn(year, month int) int {
	if month == 2 && isLeap(year) {
		return 29
	}
	return [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month]
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (H. Hinnant's days_from_civil).
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// weekday returns the weekday of a day number with Monday = 0, like
// Python's date.weekday(); 1970-01-01 was a Thursday.
func weekday(days int) int {
	return ((days+3)%7 + 7) % 7
}

// isoWeek returns the ISO 8601 week number, like
// date.isocalendar()[1]: the week containing the year's first Thursday is
// week 1, and each week belongs to the year its Thursday is in.
func isoWeek(y, m, d int) int {
	days := daysFromCivil(y, m, d)
	thursday := days - weekday(days) + 3
	jan1 := daysFromCivil(y, 1, 1)
	switch {
	case thursday < jan1:
		jan1 = daysFromCivil(y-1, 1, 1)
	case thursday >= daysFromCivil(y+1, 1, 1):
		jan1 = daysFromCivil(y+1, 1, 1)
	}
	return (thursday-jan1)/7 + 1
}
