package junit

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xrdtest/xrdtest/internal/store"
)

// Package junit writes a session as a JUnit XML document (what the API
// serves at GET /api/v1/sessions/{id}/junit.xml) for CI systems to read.
//
// Layout: <testsuites> is the session; one <testsuite> per test case
// ("SUITE.CASE") after one for the suite's own stages ("SUITE.(suite)");
// one <testcase> per stage and slave, named like `xrdtest logs` prints it
// ("CASE:run on host.example.org"), with classname = the testsuite's
// name. Why per case and not per slave: Jenkins builds its tree from
// classname, package.class, splitting at the last dot, so "SUITE.CASE"
// shows the suite as the package and each case as a class, while host
// names (full of dots) in a classname would become bogus packages; GitLab
// lists classname and name side by side and drops test cases whose
// names repeat, which these never do. A case is also the unit people
// re-run and get mails about.
//
// Statuses: failed and timeout are <failure>, lost is <error> (the
// infrastructure failed, not the test), skipped and cancelled are
// <skipped>, as are stages not finished yet. A session that did not pass
// without any failing stage to show for it (its slaves never came, the
// master stopped) gets one more test case, "session", that says why, so
// a CI system never reads it as green.
//
// <system-out> is the tail of the stage's output, read from the end of
// the file (never the whole file): DefaultTail per test case (?tail=BYTES,
// at most MaxTail, 0: none), Budget for the whole document, given to
// the test cases that did not pass first. Text that XML 1.0 cannot carry
// is replaced: invalid UTF-8 by U+FFFD, control characters by their
// Unicode pictures (NUL is ␀, ESC is ␛).

const (
	DefaultTail = 64 << 10 // output bytes per test case
	MaxTail     = 1 << 20  // the most a caller may ask per test case
	Budget      = 16 << 20 // output bytes for the whole document
)

// junitCase is one <testcase>, with what is needed to fetch its output.
type junitCase struct {
	XMLName   xml.Name      `xml:"testcase"`
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	// Retried attempts, as Maven surefire writes them: the failures of a
	// test case that passed on a retry, and of the retries of one that
	// failed every time.
	FlakyFailure []*junitProblem `xml:"flakyFailure,omitempty"`
	RerunFailure []*junitProblem `xml:"rerunFailure,omitempty"`
	SystemOut    *junitText      `xml:"system-out,omitempty"`

	result *store.Result // of the last attempt
	stage  int
	give   int64 // output bytes this test case may show
	// failed are the failures of the attempts before the last.
	failed []*junitProblem
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// junitText is pre-escaped text (see xmlText).
type junitText struct {
	Inner string `xml:",innerxml"`
}

type junitSuite struct {
	name                      string
	cases                     []*junitCase
	failures, errors, skipped int
	start, end                time.Time
}

// retrySuffix ends the name of a case's stage run again ("c:run#2").
var retrySuffix = regexp.MustCompile(`#[0-9]+$`)

// retried makes c, a later attempt, the test case in the place of p.
func (p *junitCase) retried(c *junitCase) {
	failed := c.failed
	*p = *c
	p.failed = failed
}

// settle sorts the failures of the attempts before the last: flaky when
// the last passed, reruns' when it failed (the first failure stays the
// <failure>).
func (c *junitCase) settle() {
	if len(c.failed) == 0 {
		return
	}
	switch {
	case c.Failure != nil:
		c.RerunFailure = append(c.failed[1:], c.Failure)
		c.Failure = c.failed[0]
	case c.Error == nil && c.Skipped == nil:
		c.FlakyFailure = c.failed
	default:
		c.RerunFailure = c.failed
	}
	c.failed = nil
}

// count adds c's outcome to the suite's totals.
func (s *junitSuite) count(c *junitCase) {
	switch {
	case c.Failure != nil:
		s.failures++
	case c.Error != nil:
		s.errors++
	case c.Skipped != nil:
		s.skipped++
	}
}

func (s *junitSuite) add(c *junitCase, start, end time.Time) {
	s.cases = append(s.cases, c)
	s.count(c)
	if !start.IsZero() && (s.start.IsZero() || start.Before(s.start)) {
		s.start = start
	}
	if end.After(s.end) {
		s.end = end
	}
}

func seconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// junitModel builds the test suites of a session, without outputs; each
// test case may show up to tail bytes of output.
func junitModel(d *store.SessionDetail, tail, budget int64) []*junitSuite {
	own := &junitSuite{name: d.Suite + ".(suite)"}
	suites := []*junitSuite{own}
	attempts := map[string]*junitCase{} // by classname and name
	byCase := map[string]*junitSuite{}
	bad := false
	for _, st := range d.Stages {
		js := own
		if st.Case != "" {
			if js = byCase[st.Case]; js == nil {
				js = &junitSuite{name: d.Suite + "." + st.Case}
				byCase[st.Case] = js
				suites = append(suites, js)
			}
		}
		// A retry ("c:run#2") is another attempt of the same test case.
		name := st.Name
		if st.Case != "" {
			name = retrySuffix.ReplaceAllString(name, "")
		}
		for _, r := range st.Results {
			c := &junitCase{Name: name + " on " + r.Slave, Classname: js.name, result: r, stage: st.Index}
			prev := attempts[c.Classname+"\x00"+c.Name]
			if !r.Start.IsZero() && !r.End.IsZero() {
				c.Time = seconds(r.End.Sub(r.Start))
			} else {
				c.Time = seconds(0)
			}
			problem := func(kind string) *junitProblem {
				p := &junitProblem{Type: kind, Message: string(r.Status)}
				if r.ExitCode != nil {
					p.Message = fmt.Sprintf("exit code %d", *r.ExitCode)
				}
				if r.Message != "" {
					p.Message += ": " + r.Message
				}
				p.Text = fmt.Sprintf("%s on %s: %s", st.Name, r.Slave, p.Message)
				return p
			}
			switch r.Status {
			case store.StatusFailed, store.StatusTimeout:
				c.Failure, bad = problem(string(r.Status)), true
			case store.StatusLost:
				c.Error, bad = problem("lost"), true
			case store.StatusSkipped:
				c.Skipped = &junitSkipped{Message: r.Message}
			case store.StatusCancelled:
				c.Skipped = &junitSkipped{Message: strings.TrimSuffix("cancelled: "+r.Message, ": ")}
			case store.StatusPending, store.StatusRunning:
				c.Skipped = &junitSkipped{Message: "not finished yet: the stage is " + string(r.Status)}
			}
			if prev != nil {
				// The last attempt is the test case; the failures before
				// it are flaky ones if it passed, reruns' if it failed.
				prev.failed = append(prev.failed, prev.Failure)
				c.failed = slices.DeleteFunc(prev.failed, func(p *junitProblem) bool { return p == nil })
				prev.retried(c)
				continue
			}
			attempts[c.Classname+"\x00"+c.Name] = c
			js.add(c, r.Start, r.End)
		}
	}
	for _, js := range suites {
		js.failures, js.errors, js.skipped = 0, 0, 0
		for _, c := range js.cases {
			c.settle()
			js.count(c)
		}
	}
	if d.State.Finished() && d.State != store.SessionPassed && !bad {
		c := &junitCase{Name: "session", Classname: own.name, Time: seconds(0)}
		msg := fmt.Sprintf("session %d %s", d.ID, d.State)
		if d.Reason != "" {
			msg += ": " + d.Reason
		}
		switch d.State {
		case store.SessionFailed:
			c.Failure = &junitProblem{Type: "session", Message: msg, Text: msg}
		case store.SessionCancelled:
			c.Skipped = &junitSkipped{Message: msg}
		default: // interrupted
			c.Error = &junitProblem{Type: "session", Message: msg, Text: msg}
		}
		own.add(c, time.Time{}, time.Time{})
	}
	// The budget goes to the test cases that did not pass first.
	for _, failing := range []bool{true, false} {
		for _, js := range suites {
			for _, c := range js.cases {
				if c.result == nil || (c.Failure != nil || c.Error != nil) != failing {
					continue
				}
				size := c.result.OutputBytes
				if c.result.Status == store.StatusRunning {
					size = tail // OutputBytes is recorded at the end
				}
				c.give = min(size, tail, budget)
				budget -= c.give
			}
		}
	}
	return suites
}

// Write streams the document of session d to w: one test case's output
// in memory at a time, tail bytes of it at most and budget bytes in all.
func Write(ctx context.Context, w io.Writer, st store.Store, d *store.SessionDetail, tail, budget int64, now time.Time) error {
	suites := junitModel(d, tail, budget)
	var tests, failures, errs, skipped int
	for _, js := range suites {
		tests += len(js.cases)
		failures += js.failures
		errs += js.errors
		skipped += js.skipped
	}
	var elapsed time.Duration
	if !d.Started.IsZero() {
		end := d.Ended
		if end.IsZero() {
			end = now
		}
		elapsed = end.Sub(d.Started)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	attr := func(name, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }
	counts := func(t, f, e, s int) []xml.Attr {
		return []xml.Attr{attr("tests", strconv.Itoa(t)), attr("failures", strconv.Itoa(f)), attr("errors", strconv.Itoa(e)), attr("skipped", strconv.Itoa(s))}
	}
	root := xml.StartElement{Name: xml.Name{Local: "testsuites"}, Attr: append([]xml.Attr{
		attr("name", fmt.Sprintf("xrdtest session %d: %s", d.ID, d.Suite)), attr("time", seconds(elapsed))},
		counts(tests, failures, errs, skipped)...)}
	if err := enc.EncodeToken(root); err != nil {
		return err
	}
	id := 0
	for _, js := range suites {
		if len(js.cases) == 0 {
			continue
		}
		ts := xml.StartElement{Name: xml.Name{Local: "testsuite"}, Attr: append([]xml.Attr{
			attr("name", js.name), attr("id", strconv.Itoa(id))},
			counts(len(js.cases), js.failures, js.errors, js.skipped)...)}
		if !js.start.IsZero() {
			ts.Attr = append(ts.Attr, attr("timestamp", js.start.UTC().Format("2006-01-02T15:04:05.000Z")), attr("time", seconds(js.end.Sub(js.start))))
		} else {
			ts.Attr = append(ts.Attr, attr("time", seconds(0)))
		}
		if err := enc.EncodeToken(ts); err != nil {
			return err
		}
		props := junitProperties(d)
		if err := enc.EncodeElement(props, xml.StartElement{Name: xml.Name{Local: "properties"}}); err != nil {
			return err
		}
		for _, c := range js.cases {
			if err := ctx.Err(); err != nil {
				return err
			}
			if c.result != nil && (c.give > 0 || c.result.OutputBytes > 0) {
				c.SystemOut = junitOutput(st, d.ID, c.stage, c.result.Slave, c.give, tail)
			}
			err := enc.EncodeElement(c, xml.StartElement{Name: xml.Name{Local: "testcase"}})
			c.SystemOut = nil
			if err != nil {
				return err
			}
		}
		if err := enc.EncodeToken(ts.End()); err != nil {
			return err
		}
		id++
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return err
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitPropertyList struct {
	Property []junitProperty `xml:"property"`
}

func junitProperties(d *store.SessionDetail) junitPropertyList {
	p := junitPropertyList{Property: []junitProperty{
		{"session", strconv.FormatInt(d.ID, 10)},
		{"suite", d.Suite},
		{"state", string(d.State)},
		{"machines", strings.Join(d.Machines, " ")},
		{"cases", strings.Join(d.Cases, " ")},
	}}
	if d.Reason != "" {
		p.Property = append(p.Property, junitProperty{"reason", d.Reason})
	}
	if d.TriggeredBy != "" {
		p.Property = append(p.Property, junitProperty{"triggered_by", d.TriggeredBy})
	}
	return p
}

// junitOutput returns the last give bytes of an output (nil: none at
// all), saying so when it is cut.
func junitOutput(st store.Store, session int64, stage int, slave string, give, tail int64) *junitText {
	link := fmt.Sprintf("/api/v1/sessions/%d/output?%s", session, url.Values{"stage": {strconv.Itoa(stage)}, "slave": {slave}}.Encode())
	f, err := st.OpenOutput(session, stage, slave)
	if err != nil {
		return nil
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return nil
	}
	if give <= 0 {
		why := "over the size limit of this document"
		if tail == 0 {
			why = "tail=0"
		}
		return &junitText{Inner: xmlText(fmt.Appendf(nil, "[output of %d bytes not included (%s): %s]\n", size, why, link))}
	}
	from := max(size-give, 0)
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, give))
	if err != nil && len(b) == 0 {
		return nil
	}
	if from > 0 {
		// Start on a whole line, or at least on a whole character.
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < 4<<10 {
			from, b = from+int64(i)+1, b[i+1:]
		}
		for n := 0; n < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); n++ {
			from, b = from+1, b[1:]
		}
		b = append(fmt.Appendf(nil, "[first %d bytes cut, the whole output: %s]\n", from, link), b...)
	}
	return &junitText{Inner: xmlText(b)}
}

// xmlText escapes b as XML 1.0 character data: &, < and > as entities
// (so "]]>" cannot occur), CR as a character reference (a parser would
// turn a literal one into LF), invalid UTF-8 as U+FFFD, and the
// characters XML 1.0 forbids (C0 controls but tab and newline, U+FFFE,
// U+FFFF) as visible substitutes.
func xmlText(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '&':
			sb.WriteString("&amp;")
		case r == '<':
			sb.WriteString("&lt;")
		case r == '>':
			sb.WriteString("&gt;")
		case r == '\r':
			sb.WriteString("&#xD;")
		case r == '\t' || r == '\n':
			sb.WriteRune(r)
		case r < 0x20:
			sb.WriteRune(0x2400 + r) // ␀ ... ␟
		case r == utf8.RuneError && size == 1, r == 0xFFFE, r == 0xFFFF:
			sb.WriteRune(utf8.RuneError)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
