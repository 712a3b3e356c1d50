package cron

import "time"

// Next returns the first fire time strictly after t, in t's Location, or the zero Time if there is none (e.g. year range exhausted).
//
// The search runs on t's wall clock, as 2.0.3 did on naive local
// datetimes, and each wall time fires at most once:
//   - a matching wall time that does not exist (skipped by a DST gap) is
//     skipped; the search continues at the first wall time after the gap;
//   - a wall time that exists twice (DST overlap) fires at its first
//     occurrence after t only; the repeated hour does not fire again for
//     wall times already passed.
//
// The search ends at the end of year 9999, so Next always terminates.
func (s *Schedule) Next(t time.Time) time.Time {
	loc := t.Location()
	from := civilOf(t).addSeconds(1) // sub-second part of t is dropped
	if s.hasStart && from.before(s.start) {
		from = s.start
	}
	// Each round starts later than the previous one and nextCivil gives up
	// after year 9999, so this loop ends.
	for {
		w, ok := s.nextCivil(from)
		if !ok {
			return time.Time{}
		}
		inst, resume := resolve(w, loc, t)
		if !inst.IsZero() {
			return inst
		}
		from = resume
	}
}

// nextCivil is 2.0.3's CronTrigger.get_next_fire_time on a naive date-time:
// it returns the earliest matching wall time >= from. Walking the fields
// from most to least significant, a field that already matches is kept; a
// real field with a later matching value is set to it (resetting less
// significant fields to their minimum); otherwise the previous real field
// is incremented and the walk resumes there. Every step moves the date
// forward and the year is capped at 9999, so this terminates.
//
// If the schedule repeats every s.cycle years, a match exists iff there is
// one within one cycle, so the walk stops after that: an impossible
// schedule like week=1, month=6 then costs 400 years of steps, not 8000.
func (s *Schedule) nextCivil(from civil) (civil, bool) {
	limit := specs[fYear].max
	if s.cycle > 0 {
		limit = min(limit, max(from.year, s.cycleFrom)+s.cycle)
	}
	c := from
	id := fYear
	for id >= 0 && id < numFields {
		if c.year > limit {
			return c, false
		}
		cur := c.get(id)
		next, ok := s.fieldNext(id, c)
		switch {
		case !ok:
			c, id = s.increment(c, id-1)
		case next > cur && id.spec().real:
			c = setField(c, id, next)
			id++
		case next > cur:
			// week and day_of_week cannot be set: step the day.
			c, id = s.increment(c, id)
		default:
			id++
		}
	}
	return c, id >= 0
}

// fieldNext is the smallest next value over the field's expressions
// (BaseField.get_next_value).
func (s *Schedule) fieldNext(id fieldID, c civil) (int, bool) {
	best, found := 0, false
	for _, e := range s.fields[id] {
		if v, ok := e.next(id, c); ok && (!found || v < best) {
			best, found = v, true
		}
	}
	return best, found
}

// increment is CronTrigger._increment_field_value: it adds one to real field
// id (or, for a derived field, the closest more significant real one),
// carrying into more significant fields when the value is at its maximum,
// and resets all less significant fields to their minimum. It returns the
// new time and the field actually incremented; -1 means the year would
// pass 9999 (where Python's datetime raises) or id was already -1.
func (s *Schedule) increment(c civil, id fieldID) (civil, fieldID) {
	for id >= 0 && !id.spec().real {
		id--
	}
	for ; id >= 0; id-- {
		if !id.spec().real {
			continue
		}
		if v := c.get(id); v < fieldMax(id, c) {
			return setField(c, id, v+1), id
		}
	}
	return c, -1
}

// setField is CronTrigger._set_field_value: field id becomes v, more
// significant fields are kept, less significant real fields are reset to
// their minimum.
func setField(c civil, id fieldID, v int) civil {
	c.set(id, v)
	for j := id + 1; j < numFields; j++ {
		if j.spec().real {
			c.set(j, j.spec().min)
		}
	}
	return c
}

// resolve maps wall time w in loc to the earliest instant after t showing
// w. If there is none (w is in a DST gap, or, in an overlap, both
// occurrences are not after t) it returns the zero Time and the wall time
// to continue searching from.
func resolve(w civil, loc *time.Location, t time.Time) (time.Time, civil) {
	naive := w.utc().Unix()
	guess := time.Date(w.year, time.Month(w.month), w.day, w.hour, w.minute, w.second, 0, loc)

	// w can only map to an offset of the zone period around guess or of
	// its neighbours.
	_, off := guess.Zone()
	offsets := []int{off}
	start, end := guess.ZoneBounds()
	if !start.IsZero() {
		_, o := start.Add(-time.Second).Zone()
		offsets = append(offsets, o)
	}
	if !end.IsZero() {
		_, o := end.Zone()
		offsets = append(offsets, o)
	}
	var best time.Time
	for _, o := range offsets {
		inst := time.Unix(naive-int64(o), 0).In(loc)
		if civilOf(inst) == w && inst.After(t) && (best.IsZero() || inst.Before(best)) {
			best = inst
		}
	}
	if !best.IsZero() {
		return best, civil{}
	}

	// In a gap, continue at the first wall time after it, which is the
	// wall time of the transition bounding guess's zone period.
	for _, b := range []time.Time{start, end} {
		if b.IsZero() {
			continue
		}
		before, after := civilOf(b.Add(-time.Second)), civilOf(b)
		if before.before(w) && w.before(after) {
			return time.Time{}, after
		}
	}
	return time.Time{}, w.addSeconds(1)
}
