// Package cron implements the cron trigger of APScheduler 2.0.3, the Python
// scheduler the original XrdTest framework used for test-suite schedules
// such as dict(second='30', minute='15', hour='*') or dict(hour='3').
// Existing suite definitions must keep firing when they used to, so this is
// a port of 2.0.3's semantics rather than a crontab parser.
//
// A schedule is a set of keyword fields, most significant first: year,
// month, day, week (ISO week number), day_of_week, hour, minute, second,
// plus an optional start_date ("YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS", the
// str() of a Python date or datetime) before which nothing fires; a fire
// at exactly start_date is allowed. Differences from vixie cron (and from
// robfig/cron's parser):
//
//   - Fields may be omitted. Omitted fields more significant than the least
//     significant given one are "*"; the less significant ones default to
//     their minimum (month=1 day=1 hour=0 minute=0 second=0; week and
//     day_of_week stay "*"). So dict(hour='3') fires daily at 03:00:00 and
//     dict(minute='*/5') every five minutes at second 0.
//   - There is a seconds field and a year field (1970-9999).
//   - day and day_of_week must both match (cron ORs them when both are
//     restricted): day='13', day_of_week='fri' is Friday the 13th.
//   - day_of_week counts from Monday: 0 = mon ... 6 = sun.
//   - Steps count from the start of the range, or from the field minimum
//     for "*": day='*/10' is 1,11,21,31 and year='*/2' is even years.
//     "a/n" (from a to the field maximum, every n) is allowed.
//   - day also accepts "last" (last day of the month), "1st".."5th" or
//     "last" followed by a weekday name ("2nd fri", "last sun").
//   - Month names are not supported (2.0.3 has none); weekday names work
//     only in day_of_week and in the day positions above, as single names
//     or ranges without a step ("mon-fri").
//
// Where 2.0.3 was lax this package is strict, so a loader can report
// mistakes: values outside a field's range, steps of 0 and reversed ranges
// are rejected, and trailing text that 2.0.3's unanchored regular
// expressions silently ignored ("mon-fri/2", "lastly") is an error.
// Whitespace around list items is allowed ("0, 30"), as in APScheduler 3.
//
// Fire times are computed on the wall clock of the time passed to Next, like
// 2.0.3's naive local datetimes; see Schedule.Next for DST gaps and overlaps.
// A Schedule satisfies robfig/cron's Schedule interface.
package cron
