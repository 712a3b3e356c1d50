package junit

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
)

// The JUnit document as CI tools read it.
type jSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     float64  `xml:"time,attr"`
	Suites   []jSuite `xml:"testsuite"`
}

type jSuite struct {
	Name       string  `xml:"name,attr"`
	Tests      int     `xml:"tests,attr"`
	Failures   int     `xml:"failures,attr"`
	Errors     int     `xml:"errors,attr"`
	Skipped    int     `xml:"skipped,attr"`
	Time       float64 `xml:"time,attr"`
	Timestamp  string  `xml:"timestamp,attr"`
	Properties []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []jCase `xml:"testcase"`
}

type jProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type jCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Time      float64   `xml:"time,attr"`
	Failure   *jProblem `xml:"failure"`
	Error     *jProblem `xml:"error"`
	Skipped   *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
	SystemOut    *string    `xml:"system-out"`
	FlakyFailure []jProblem `xml:"flakyFailure"`
	RerunFailure []jProblem `xml:"rerunFailure"`
}

func (d *jSuites) find(name string) *jCase {
	for _, s := range d.Suites {
		for i, c := range s.Cases {
			if c.Name == name {
				return &s.Cases[i]
			}
		}
	}
	return nil
}

// junitFixture records a session of suite ts (cases c1, c2) on two
// slaves with every kind of result; outputs[stage][slave] is written.
type junitFixture struct {
	st      store.Store
	session *store.Session
}

func newJUnitFixture(t *testing.T, state store.SessionState, reason string) *junitFixture {
	t.Helper()
	st := sqlitetest.Open(t, t.TempDir())
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s := &store.Session{Suite: "ts", State: state, Reason: reason, Machines: []string{"h1.xrd.test", "h2.xrd.test"}, Cases: []string{"c1", "c2"},
		TriggeredBy: "test", Created: t0, Started: t0, Ended: t0.Add(90 * time.Second)}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return &junitFixture{st: st, session: s}
}

func (f *junitFixture) stage(t *testing.T, index int, name, cas string) {
	t.Helper()
	t0 := f.session.Started.Add(time.Duration(index) * 10 * time.Second)
	if err := f.st.PutStage(context.Background(), &store.Stage{SessionID: f.session.ID, Index: index, Name: name, Case: cas, Started: t0, Ended: t0.Add(5 * time.Second)}); err != nil {
		t.Fatal(err)
	}
}

func (f *junitFixture) result(t *testing.T, index int, slave string, status store.Status, exit int, msg string, out []byte) {
	t.Helper()
	t0 := f.session.Started.Add(time.Duration(index) * 10 * time.Second)
	r := &store.Result{SessionID: f.session.ID, Stage: index, Slave: slave, Status: status, Message: msg}
	if status != store.StatusSkipped {
		r.Start, r.End = t0, t0.Add(1500*time.Millisecond)
	}
	if exit >= 0 {
		r.ExitCode = &exit
	}
	if out != nil {
		w, err := f.st.OutputWriter(f.session.ID, index, slave)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(1, out); err != nil {
			t.Fatal(err)
		}
		w.Close()
		r.OutputBytes = int64(len(out))
	}
	if err := f.st.PutResult(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func (f *junitFixture) export(t *testing.T, tail, budget int64) (*jSuites, []byte) {
	t.Helper()
	d, err := store.Detail(context.Background(), f.st, f.session.ID)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, f.st, d, tail, budget, time.Now()); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	// Go's decoder is strict: it refuses characters XML 1.0 forbids.
	var doc jSuites
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, raw)
	}
	for i, c := range raw {
		if c < 0x20 && c != '\n' && c != '\t' {
			t.Fatalf("control byte %#x at %d", c, i)
		}
	}
	if bytes.Contains(raw, []byte("]]>")) {
		t.Errorf("]]> in the document")
	}
	return &doc, raw
}

var nasty = []byte("ok \x00 nul \x1b[31mred\x1b[0m ]]> <b>&amp; \"q\" 'a'\r\nbad utf-8: \xff\xfe, \xe2\x82 cut, U+FFFF: \xef\xbf\xbf, é ✓ \U0001F600\tend\n")

const nastyParsed = "ok ␀ nul ␛[31mred␛[0m ]]> <b>&amp; \"q\" 'a'\r\nbad utf-8: \uFFFD\uFFFD, \uFFFD\uFFFD cut, U+FFFF: \uFFFD, é ✓ \U0001F600\tend\n"

func TestJUnit(t *testing.T) {
	f := newJUnitFixture(t, store.SessionFailed, "c1:run failed on h1.xrd.test (exit 3)")
	h1, h2 := "h1.xrd.test", "h2.xrd.test"
	var big bytes.Buffer
	for i := 0; big.Len() < 200<<10; i++ {
		fmt.Fprintf(&big, "line %06d é\n", i)
	}
	stages := []struct {
		name, cas string
	}{{"suite_init", ""}, {"c1:init", "c1"}, {"c1:run", "c1"}, {"c1:finalize", "c1"}, {"c2:init", "c2"}, {"c2:run", "c2"}, {"c2:finalize", "c2"}, {"suite_finalize", ""}}
	for i, s := range stages {
		f.stage(t, i, s.name, s.cas)
	}
	f.result(t, 0, h1, store.StatusPassed, 0, "", []byte("init h1\n"))
	f.result(t, 0, h2, store.StatusPassed, 0, "", []byte("init h2\n"))
	f.result(t, 1, h1, store.StatusPassed, -1, "no script: nothing to run", nil)
	f.result(t, 1, h2, store.StatusPassed, -1, "no script: nothing to run", nil)
	f.result(t, 2, h1, store.StatusFailed, 3, "", nasty)
	f.result(t, 2, h2, store.StatusTimeout, -1, "killed after stage timeout 1m0s", []byte("waiting\n"))
	f.result(t, 3, h1, store.StatusPassed, 0, "", big.Bytes())
	f.result(t, 3, h2, store.StatusPassed, 0, "", []byte{})
	f.result(t, 4, h1, store.StatusLost, -1, "slave lost", []byte("partial"))
	f.result(t, 4, h2, store.StatusCancelled, -1, "", nil)
	f.result(t, 5, h1, store.StatusSkipped, -1, "slave lost: h1.xrd.test", nil)
	f.result(t, 5, h2, store.StatusSkipped, -1, "slave lost: h1.xrd.test", nil)
	f.result(t, 6, h1, store.StatusSkipped, -1, "the slave was lost earlier in the session", nil)
	f.result(t, 6, h2, store.StatusPassed, 0, "", []byte("fin\n"))
	f.result(t, 7, h1, store.StatusSkipped, -1, "the slave was lost earlier in the session", nil)
	f.result(t, 7, h2, store.StatusPassed, 0, "", []byte("bye\n"))

	doc, _ := f.export(t, DefaultTail, Budget)
	if doc.Tests != 16 || doc.Failures != 2 || doc.Errors != 1 || doc.Skipped != 5 || doc.Time != 90 {
		t.Errorf("totals: %+v", doc)
	}
	if doc.Name != fmt.Sprintf("xrdtest session %d: ts", f.session.ID) {
		t.Errorf("name %q", doc.Name)
	}
	var names []string
	for _, s := range doc.Suites {
		names = append(names, fmt.Sprintf("%s %d/%d/%d/%d", s.Name, s.Tests, s.Failures, s.Errors, s.Skipped))
		for _, c := range s.Cases {
			if c.Classname != s.Name {
				t.Errorf("%s: classname %q in suite %q", c.Name, c.Classname, s.Name)
			}
		}
		if len(s.Properties) == 0 || s.Properties[0].Name != "session" || s.Properties[0].Value != fmt.Sprint(f.session.ID) {
			t.Errorf("%s: properties %+v", s.Name, s.Properties)
		}
	}
	if got := strings.Join(names, ", "); got != "ts.(suite) 4/0/0/1, ts.c1 6/2/0/0, ts.c2 6/0/1/4" {
		t.Errorf("suites: %s", got)
	}
	if s := doc.Suites[1]; s.Timestamp != "2026-03-01T10:00:10.000Z" || s.Time != 21.5 {
		t.Errorf("c1 timestamp %q time %v", s.Timestamp, s.Time)
	}

	failed := doc.find("c1:run on h1.xrd.test")
	if failed == nil || failed.Failure == nil || failed.Failure.Type != "failed" || failed.Failure.Message != "exit code 3" || failed.Time != 1.5 {
		t.Fatalf("failed case: %+v", failed)
	}
	if failed.SystemOut == nil || *failed.SystemOut != nastyParsed {
		t.Errorf("system-out:\n%q\nwant\n%q", deref(failed.SystemOut), nastyParsed)
	}
	if c := doc.find("c1:run on h2.xrd.test"); c == nil || c.Failure == nil || c.Failure.Type != "timeout" || c.Failure.Message != "timeout: killed after stage timeout 1m0s" {
		t.Errorf("timeout case: %+v", c)
	}
	if c := doc.find("c2:init on h1.xrd.test"); c == nil || c.Error == nil || c.Error.Type != "lost" || c.Error.Message != "lost: slave lost" || deref(c.SystemOut) != "partial" {
		t.Errorf("lost case: %+v", c)
	}
	if c := doc.find("c2:init on h2.xrd.test"); c == nil || c.Skipped == nil || c.Skipped.Message != "cancelled" {
		t.Errorf("cancelled case: %+v", c)
	}
	if c := doc.find("c2:run on h2.xrd.test"); c == nil || c.Skipped == nil || c.Skipped.Message != "slave lost: h1.xrd.test" || c.SystemOut != nil {
		t.Errorf("skipped case: %+v", c)
	}
	if c := doc.find("c1:init on h1.xrd.test"); c == nil || c.Failure != nil || c.Skipped != nil || c.SystemOut != nil {
		t.Errorf("no-op case: %+v", c)
	}
	if doc.find("session") != nil {
		t.Errorf("a session test case although stages explain the failure")
	}

	// The big output: its last 64 KiB, from a whole line, saying how much
	// was cut.
	c := doc.find("c1:finalize on h1.xrd.test")
	out := deref(c.SystemOut)
	first, rest, _ := strings.Cut(out, "\n")
	var cut int
	if _, err := fmt.Sscanf(first, "[first %d bytes cut, the whole output: /api/v1/sessions/", &cut); err != nil {
		t.Fatalf("cut note %q: %v", first, err)
	}
	if cut+len(rest) != big.Len() || !strings.HasSuffix(big.String(), rest) || !strings.HasPrefix(rest, "line ") || len(rest) > DefaultTail {
		t.Errorf("tail: cut %d + %d bytes of %d; starts %q", cut, len(rest), big.Len(), rest[:20])
	}
	if !strings.Contains(first, fmt.Sprintf("/api/v1/sessions/%d/output?slave=h1.xrd.test&stage=3", f.session.ID)) {
		t.Errorf("cut note without the output's link: %q", first)
	}

	// tail=0: no output, a note instead; a small budget goes to the
	// failing test cases first.
	doc, _ = f.export(t, 0, Budget)
	if c := doc.find("c1:run on h1.xrd.test"); !strings.Contains(deref(c.SystemOut), "not included (tail=0)") {
		t.Errorf("tail=0: %q", deref(c.SystemOut))
	}
	doc, raw := f.export(t, DefaultTail, int64(len(nasty))+8)
	if c := doc.find("c1:run on h1.xrd.test"); deref(c.SystemOut) != nastyParsed {
		t.Errorf("failing case lost its output to the budget: %q", deref(c.SystemOut))
	}
	if c := doc.find("c1:run on h2.xrd.test"); deref(c.SystemOut) != "waiting\n" {
		t.Errorf("second failing case: %q", deref(c.SystemOut))
	}
	if c := doc.find("c1:finalize on h1.xrd.test"); !strings.Contains(deref(c.SystemOut), "not included (over the size limit of this document)") {
		t.Errorf("passing case over the budget: %q", deref(c.SystemOut))
	}
	if len(raw) > 20<<10 {
		t.Errorf("%d bytes with a budget of %d", len(raw), len(nasty)+8)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// A session that failed, or was interrupted, with nothing failing to show
// for it still reads as failed.
func TestJUnitSessionCase(t *testing.T) {
	for _, tt := range []struct {
		state          store.SessionState
		reason         string
		failures, errs int
		skipped        int
	}{
		{store.SessionFailed, "slaves not connected and idle after 5m0s: h2.xrd.test", 1, 0, 0},
		{store.SessionInterrupted, "the master stopped while the session was queued or running", 0, 1, 0},
		{store.SessionCancelled, "cancelled while queued", 0, 0, 1},
		{store.SessionPassed, "", 0, 0, 0},
	} {
		f := newJUnitFixture(t, tt.state, tt.reason)
		doc, _ := f.export(t, DefaultTail, Budget)
		if doc.Failures != tt.failures || doc.Errors != tt.errs || doc.Skipped != tt.skipped {
			t.Errorf("%s: %+v", tt.state, doc)
		}
		c := doc.find("session")
		if tt.state == store.SessionPassed {
			if c != nil || doc.Tests != 0 || len(doc.Suites) != 0 {
				t.Errorf("passed: %+v", doc)
			}
			continue
		}
		want := fmt.Sprintf("session %d %s: %s", f.session.ID, tt.state, tt.reason)
		var msg string
		switch {
		case c == nil:
			t.Fatalf("%s: no session test case", tt.state)
		case c.Failure != nil:
			msg = c.Failure.Message
		case c.Error != nil:
			msg = c.Error.Message
		case c.Skipped != nil:
			msg = c.Skipped.Message
		}
		if msg != want || c.Classname != "ts.(suite)" {
			t.Errorf("%s: %+v", tt.state, c)
		}
	}
}

// A running session: unfinished stages are skipped "not finished yet",
// and a running stage shows its output so far.
func TestJUnitRunning(t *testing.T) {
	f := newJUnitFixture(t, store.SessionRunning, "")
	f.session.Ended = time.Time{}
	f.st.UpdateSession(context.Background(), f.session)
	f.stage(t, 0, "suite_init", "")
	f.result(t, 0, "h1.xrd.test", store.StatusRunning, -1, "", []byte("so far\n"))
	r := &store.Result{SessionID: f.session.ID, Stage: 0, Slave: "h1.xrd.test", Status: store.StatusRunning, Start: f.session.Started}
	f.st.PutResult(context.Background(), r) // OutputBytes is 0 until the end
	f.result(t, 0, "h2.xrd.test", store.StatusPending, -1, "", nil)
	doc, _ := f.export(t, DefaultTail, Budget)
	c := doc.find("suite_init on h1.xrd.test")
	if c == nil || c.Skipped == nil || c.Skipped.Message != "not finished yet: the stage is running" || deref(c.SystemOut) != "so far\n" {
		t.Errorf("running: %+v %q", c, deref(c.SystemOut))
	}
	if doc.find("session") != nil || doc.Skipped != 2 {
		t.Errorf("running session: %+v", doc)
	}
}

func TestXMLText(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"a<b>&c":             "a&lt;b&gt;&amp;c",
		"]]>":                "]]&gt;",
		"\x00\x01\x1f\x7f":   "␀␁␟\x7f",
		"\r\n\t":             "&#xD;\n\t",
		"\xff":               "\uFFFD",
		"\xed\xa0\x80":       "\uFFFD\uFFFD\uFFFD", // a UTF-16 surrogate in UTF-8
		"\xef\xbf\xbe":       "\uFFFD",             // U+FFFE
		"\u0085\u00a0\u2028": "\u0085\u00a0\u2028", // allowed in XML 1.0
	} {
		if got := xmlText([]byte(in)); got != want {
			t.Errorf("xmlText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestJUnitRetries: the attempts of a retried case are one test case, as
// Maven surefire writes reruns: passed on a retry, its earlier failures
// are <flakyFailure>s and it passes; failed every time, the first failure
// is the <failure> and the others <rerunFailure>s; the output shown is
// the last attempt's.
func TestJUnitRetries(t *testing.T) {
	f := newJUnitFixture(t, store.SessionFailed, "")
	f.stage(t, 0, "suite_init", "")
	f.result(t, 0, "h1.xrd.test", store.StatusPassed, 0, "", nil)
	// c1 fails on h1, passes on its retry.
	f.stage(t, 1, "c1:run", "c1")
	f.result(t, 1, "h1.xrd.test", store.StatusFailed, 3, "", []byte("first try\n"))
	f.stage(t, 2, "c1:run#2", "c1")
	f.result(t, 2, "h1.xrd.test", store.StatusPassed, 0, "", []byte("second try\n"))
	// c2 fails three times on h1, with different exit codes.
	for i, code := range []int{1, 2, 4} {
		name := "c2:run"
		if i > 0 {
			name = fmt.Sprintf("c2:run#%d", i+1)
		}
		f.stage(t, 3+i, name, "c2")
		f.result(t, 3+i, "h1.xrd.test", store.StatusFailed, code, "", nil)
	}
	doc, raw := f.export(t, DefaultTail, Budget)
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 0 {
		t.Errorf("counts: %d tests, %d failures, %d errors\n%s", doc.Tests, doc.Failures, doc.Errors, raw)
	}
	c1 := doc.find("c1:run on h1.xrd.test")
	if c1 == nil || c1.Failure != nil || len(c1.FlakyFailure) != 1 || c1.FlakyFailure[0].Message != "exit code 3" || len(c1.RerunFailure) != 0 ||
		c1.SystemOut == nil || !strings.Contains(*c1.SystemOut, "second try") {
		t.Errorf("c1: %+v\n%s", c1, raw)
	}
	c2 := doc.find("c2:run on h1.xrd.test")
	if c2 == nil || c2.Failure == nil || c2.Failure.Message != "exit code 1" || len(c2.RerunFailure) != 2 ||
		c2.RerunFailure[0].Message != "exit code 2" || c2.RerunFailure[1].Message != "exit code 4" || len(c2.FlakyFailure) != 0 {
		t.Errorf("c2: %+v\n%s", c2, raw)
	}
	if doc.find("c1:run#2 on h1.xrd.test") != nil {
		t.Errorf("a retry is a test case of its own:\n%s", raw)
	}
}
