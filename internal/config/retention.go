package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention is the [retention] section (new) of the master and of the
// slave: how much history is kept. The zero value keeps everything.
//
// On the master it limits the finished sessions (with their results,
// events, outputs and logs; queued and running ones are never deleted),
// and, with outputs_max_age, how long their outputs and logs are kept; on
// the slave, the session work directories under [slave] work_dir (never
// the one of a session in progress). Both delete in the background, at
// start and then hourly.
type Retention struct {
	// MaxAge: max_age, what is older is deleted ("90d", "2w", "36h"; a
	// unit is required; at least 1h). 0 or empty: no age limit.
	MaxAge time.Duration
	// MaxSessions: max_sessions, only the newest this many sessions (or
	// work directories) are kept. 0: no count limit.
	MaxSessions int
	// OutputsMaxAge: outputs_max_age, master only: the stage outputs and
	// collected logs of finished sessions older than this are deleted,
	// their results and events kept (they are most of a history's size).
	// 0 or empty: kept as long as their sessions.
	OutputsMaxAge time.Duration
}

// MinRetentionAge is the shortest max_age: a shorter one is more likely a
// mistake (a unit left out) than a wish to delete results as they come.
const MinRetentionAge = time.Hour

// Limited reports whether any limit is set.
func (r Retention) Limited() bool { return r.MaxAge > 0 || r.MaxSessions > 0 || r.OutputsMaxAge > 0 }

var ageUnits = map[string]time.Duration{
	"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second,
}

// ParseAge parses a retention age: numbers each followed by a unit, w
// (weeks), d (days), h, m or s, as in "90d", "2w", "1d12h", "1.5h". "0"
// and "" are 0 (keep forever). A number without a unit is refused:
// seconds, as elsewhere in the configuration, would delete everything if
// days were meant.
func ParseAge(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "0" {
		return 0, nil
	}
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("invalid age %q: %s; want a number and a unit (w, d, h, m, s) such as 90d, 2w, 36h, or 0 to keep forever", s, why)
	}
	var total float64
	for rest := t; rest != ""; {
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i == 0 {
			return bad("a unit without a number")
		}
		if i < 0 {
			return bad("a number without a unit")
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return bad("not a number")
		}
		rest = rest[i:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r >= '0' && r <= '9' || r == '.' })
		if j < 0 {
			j = len(rest)
		}
		unit, ok := ageUnits[rest[:j]]
		if !ok {
			return bad(fmt.Sprintf("unknown unit %q", rest[:j]))
		}
		rest = rest[j:]
		total += n * float64(unit)
	}
	if total >= float64(1<<63-1) {
		return bad("too long")
	}
	return time.Duration(total), nil
}

// FormatAge shows an age in the largest unit that divides it ("90d",
// "36h", "0").
func FormatAge(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// ageField is a [retention] key holding an age (ParseAge).
func ageField(key string, p *time.Duration) field {
	return field{section: "retention", key: key,
		set: func(v string, _ Source) error {
			d, err := ParseAge(v)
			if err == nil {
				*p = d
			}
			return err
		},
		show: func() string { return FormatAge(*p) }}
}

// masterRetentionFields are the master's [retention] keys: the slave's
// and outputs_max_age.
func masterRetentionFields(r *Retention) []field {
	return append(retentionFields(r), ageField("outputs_max_age", &r.OutputsMaxAge))
}

func retentionFields(r *Retention) []field {
	return []field{
		ageField("max_age", &r.MaxAge),
		{section: "retention", key: "max_sessions",
			set: func(v string, _ Source) error {
				t := strings.TrimSpace(v)
				if t == "" {
					r.MaxSessions = 0
					return nil
				}
				n, err := strconv.Atoi(t)
				if err != nil || n < 0 {
					return fmt.Errorf("invalid count %q: want a whole number, 0 to keep all", v)
				}
				r.MaxSessions = n
				return nil
			},
			show: func() string { return strconv.Itoa(r.MaxSessions) }},
	}
}

func (t *table) validateRetention(r Retention) []error {
	var errs []error
	for _, a := range []struct {
		key string
		d   time.Duration
	}{{"max_age", r.MaxAge}, {"outputs_max_age", r.OutputsMaxAge}} {
		if a.d < 0 || (a.d > 0 && a.d < MinRetentionAge) {
			errs = append(errs, t.invalid("retention", a.key,
				fmt.Sprintf("%s is below the minimum of %s (0: keep forever)", a.d, MinRetentionAge)))
		}
	}
	if r.MaxSessions < 0 {
		errs = append(errs, t.invalid("retention", "max_sessions", fmt.Sprintf("invalid count %d: want 0 or more", r.MaxSessions)))
	}
	return errs
}
