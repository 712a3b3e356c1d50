package web

import (
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"

	"github.com/xrdtest/xrdtest/internal/views"

	"github.com/xrdtest/xrdtest/internal/store"
)

var funcs = template.FuncMap{
	"fmtTime": fmtTime,
	"dur":     dur,
	"bytes":   humanBytes,
	"pct": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f %%", *p*100)
	},
	"exit": func(c *int) string {
		if c == nil {
			return ""
		}
		return strconv.Itoa(*c)
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"resultURL": func(id int64, stage int, slave string) string {
		return fmt.Sprintf("/sessions/%d/result?%s", id, url.Values{"stage": {strconv.Itoa(stage)}, "slave": {slave}}.Encode())
	},
	"logURL": func(id int64, slave, path string) string {
		return fmt.Sprintf("/sessions/%d/log?%s", id, url.Values{"slave": {slave}, "path": {path}}.Encode())
	},
	"historyURL": func(q api.HistoryQuery, page int) string {
		q.Page = page
		return "/history?" + q.Values().Encode()
	},
	"suiteHistoryURL": func(suite string) string { return "/history?" + url.Values{"suite": {suite}}.Encode() },
	"casesURL":        func(suite string) string { return "/suites/" + url.PathEscape(suite) + "/cases" },
	"caseURL":         caseURL,
	// The trend strip reads oldest to newest, as the suites' strips do.
	"oldestFirst": func(l []api.CaseRun) []api.CaseRun {
		out := make([]api.CaseRun, len(l))
		for i, x := range l {
			out[len(l)-1-i] = x
		}
		return out
	},
	"hasState": func(q api.HistoryQuery, s store.SessionState) bool {
		for _, x := range q.States {
			if x == s {
				return true
			}
		}
		return false
	},
	"states":   views.SessionStates,
	"finished": func(s store.SessionState) bool { return s.Finished() },
	// shellable: the session's hosts take shells (running or held).
	"shellable": func(s store.SessionState) bool { return s == store.SessionRunning || s == store.SessionHeld },
	"mib":       func(kib int64) string { return humanBytes(kib << 10) },
	"short": func(s string, n int) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n-1]) + "…"
		}
		return s
	},
	"perDay":  perDay,
	"slice50": func() []int { return []int{25, 50, 100, 200, 500} },
	"chartW":  func(s *api.StatsView) int { return s.Days * 40 },
	"reverse": func(l []api.SessionBrief) []api.SessionBrief {
		out := make([]api.SessionBrief, len(l))
		for i, x := range l {
			out[len(l)-1-i] = x
		}
		return out
	},
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// dur renders a duration for people: "850ms", "12.3s", "4m05s", "2h03m".
func dur(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case api.Duration:
		d = time.Duration(x)
	case time.Duration:
		d = x
	default:
		return ""
	}
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// dayBar is one bar of the sessions-per-day chart.
type dayBar struct {
	Label                    string
	Passed, Failed, Other    int // heights in chart units
	PassedY, FailedY, OtherY int // tops
	Total, LabelX            int
	X                        int
	Title                    string
	ShowLabel                bool
}

// perDay lays out the sessions per day of the statistics window as bars
// of an SVG 100 units high.
func perDay(s *api.StatsView) []dayBar {
	if s == nil || s.Stats == nil {
		return nil
	}
	byDay := map[string]store.DayStats{}
	most := 1
	for _, d := range s.PerDay {
		byDay[d.Day.Format(time.DateOnly)] = d
		most = max(most, d.Sessions)
	}
	var out []dayBar
	start := s.From.UTC()
	for i := 0; i < s.Days; i++ {
		day := start.AddDate(0, 0, i)
		d := byDay[day.Format(time.DateOnly)]
		scale := func(n int) int { return n * 90 / most }
		b := dayBar{Label: day.Format("01-02"), Total: d.Sessions, X: i * 40,
			Passed: scale(d.ByState[store.SessionPassed]), Failed: scale(d.ByState[store.SessionFailed])}
		b.Other = scale(d.Sessions) - b.Passed - b.Failed
		b.PassedY = 100 - b.Passed
		b.FailedY = b.PassedY - b.Failed
		b.OtherY = b.FailedY - b.Other
		b.ShowLabel = s.Days <= 16 || i%2 == 0
		b.LabelX = b.X + 16
		b.Title = fmt.Sprintf("%s: %d sessions, %d passed, %d failed", day.Format(time.DateOnly), d.Sessions,
			d.ByState[store.SessionPassed], d.ByState[store.SessionFailed])
		out = append(out, b)
	}
	return out
}

// timeline is the unified timeline of a session: a row per slave, a bar
// per stage, on one time axis.
type timeline struct {
	Width, Height int
	Rows          []timelineRow
	Ticks         []timelineTick
}

type timelineRow struct {
	Slave string
	Y     int
	Bars  []timelineBar
	// Faults shade the windows of the faults set on the slave's host.
	Faults []timelineFault
}

type timelineFault struct {
	X, W  int
	Kind  string
	Title string
}

type timelineBar struct {
	X, W   int
	Status store.Status
	Title  string
	URL    string
}

type timelineTick struct {
	X     int
	Label string
	Class string // first, last or ""
}

const (
	tlLabel = 220 // room for the slave names
	tlWidth = 1000
	tlRow   = 22
)

func buildTimeline(v *api.SessionView, now time.Time) *timeline {
	var t0, t1 time.Time
	for _, st := range v.Stages {
		for _, c := range st.Cells {
			if c.Start.IsZero() {
				continue
			}
			end := c.End
			if end.IsZero() {
				end = now
			}
			if t0.IsZero() || c.Start.Before(t0) {
				t0 = c.Start
			}
			if end.After(t1) {
				t1 = end
			}
		}
	}
	if t0.IsZero() {
		return nil
	}
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Millisecond
	}
	scale := func(t time.Time) int {
		return tlLabel + int(float64(tlWidth-tlLabel-10)*float64(t.Sub(t0))/float64(span))
	}
	tl := &timeline{Width: tlWidth, Height: 24 + tlRow*len(v.Slaves)}
	for i, slave := range v.Slaves {
		row := timelineRow{Slave: slave, Y: 20 + i*tlRow}
		for _, st := range v.Stages {
			for _, c := range st.Cells {
				if c.Slave != slave || c.Start.IsZero() {
					continue
				}
				end := c.End
				if end.IsZero() {
					end = now
				}
				x := scale(c.Start)
				row.Bars = append(row.Bars, timelineBar{X: x, W: max(2, scale(end)-x), Status: c.Status,
					Title: fmt.Sprintf("%s on %s: %s, %s", st.Name, slave, c.Status, dur(c.Duration)),
					URL:   fmt.Sprintf("/sessions/%d/result?%s", v.ID, url.Values{"stage": {strconv.Itoa(st.Index)}, "slave": {slave}}.Encode())})
			}
		}
		for _, f := range v.Faults {
			if !slices.Contains(f.Hosts, slave) {
				continue
			}
			end, until := f.End, f.End.Format(time.TimeOnly)
			if end.IsZero() {
				end, until = now, "now"
				if v.Session != nil && !v.Ended.IsZero() {
					end, until = v.Ended, "the session's end, not healed"
				}
			}
			from, to := max(scale(f.Start), tlLabel), min(scale(end), tlWidth-10)
			if to < tlLabel || from > tlWidth-10 {
				continue // outside the stages' span
			}
			row.Faults = append(row.Faults, timelineFault{X: from, W: max(2, to-from), Kind: f.Kind,
				Title: fmt.Sprintf("fault %s %s, set by %s, %s to %s: %s", f.Kind, f.ID, f.By, f.Start.Format(time.TimeOnly), until, f.Spec)})
		}
		tl.Rows = append(tl.Rows, row)
	}
	for i := 0; i <= 4; i++ {
		at := t0.Add(span * time.Duration(i) / 4)
		tick := timelineTick{X: scale(at), Label: "+" + dur(at.Sub(t0))}
		switch i {
		case 0:
			tick.Class = "first"
		case 4:
			tick.Class = "last"
		}
		tl.Ticks = append(tl.Ticks, tick)
	}
	return tl
}
