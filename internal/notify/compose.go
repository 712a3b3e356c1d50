// Package notify composes and sends the alert e-mails of test sessions.
//
// [SessionMails] and [CaseMails] build the mails of an ended session or test
// case according to the suite's alert_success / alert_failure policies
// (DEFINITIONS.md b and d). A [Notifier] delivers them: [SMTP] sends them from
// a bounded background queue with retries, [Recorder] records them for tests.
// Sending never blocks the caller for long and never fails a session.
package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Message is one plain text e-mail. The sender (From) is the notifier's.
type Message struct {
	To      []string
	Subject string
	Body    string
}

// Notifier delivers messages. Notify never blocks the caller for long and
// never reports failures to the caller: they are logged by the notifier.
type Notifier interface {
	Notify(ctx context.Context, m Message)
}

// NotifyAll hands every message of msgs to n.
func NotifyAll(ctx context.Context, n Notifier, msgs []Message) {
	if n == nil {
		return
	}
	for _, m := range msgs {
		n.Notify(ctx, m)
	}
}

// SessionReport is what the mails of a session are made of.
type SessionReport struct {
	Session *store.Session
	Stages  []StageReport // in execution order
	// Fingerprints are the summaries of the failures' fingerprints, by
	// id: a failure first seen in this session is a new failure.
	Fingerprints map[string]store.Fingerprint
}

// StageReport is one stage of a session with its per slave results.
type StageReport struct {
	Stage   *store.Stage
	Results []*store.Result
	// OutputTail maps a slave name to the last lines of its output in this
	// stage. Only the tails of failing slaves are mailed.
	OutputTail map[string]string
}

// Limits of what a mail body quotes from one output tail.
const (
	maxTailLines = 100
	maxTailBytes = 16 << 10
)

// SessionMails returns the mails due at the end of a session: one for each
// policy SUITE or CASE that applies (alert_success when the session passed,
// alert_failure otherwise: failed, cancelled or interrupted), none for NONE
// or when the suite has no alert_emails. baseURL (e.g. "https://master:8080")
// makes the link to the session page; empty: no link.
func SessionMails(suite *definition.Suite, d SessionReport, baseURL string) []Message {
	to := recipients(suite)
	if len(to) == 0 || d.Session == nil {
		return nil
	}
	passed := d.Session.State == store.SessionPassed
	if policy(suite, passed) == definition.AlertNone {
		return nil
	}
	var b strings.Builder
	writeHeader(&b, suite, d, baseURL)
	failures := 0
	for _, sr := range d.Stages {
		failures += len(failedResults(sr))
	}
	if failures > 0 {
		fmt.Fprintf(&b, "\nFailures (%d):\n", failures)
		for _, sr := range d.Stages {
			writeFailures(&b, sr, d)
		}
	}
	writeStageTable(&b, d.Stages)
	writeTails(&b, d.Stages)
	return []Message{{
		To:      to,
		Subject: subject(fmt.Sprintf("[xrdtest] suite %s session %d %s", suiteName(suite, d), d.Session.ID, stateWord(d.Session.State))),
		Body:    b.String(),
	}}
}

// CaseMails returns the mail due when the test case caseName of a session
// ended, for the CASE policies only: when alert_success is CASE and every
// slave passed every stage of the case, a "passed" mail; when
// alert_failure is CASE and a stage of the case failed on some slave
// (failed, timeout, lost or cancelled), a mail naming each such stage and
// slave with its status, exit code, message and output tail. One mail per
// case at most (the original sent one per failing stage).
//
// The stages of the case are those with Stage.Case == caseName (or named
// "<caseName>:..."); d may hold the whole session or only these stages. With
// caseName "" the suite-level stages (suite_init, suite_finalize) are meant:
// their failures are mailed like a case's, never a "passed" mail. A case
// whose results are all skipped (or missing) gets no mail: the session mail
// tells why.
func CaseMails(suite *definition.Suite, d SessionReport, caseName string, baseURL string) []Message {
	to := recipients(suite)
	if len(to) == 0 || d.Session == nil {
		return nil
	}
	var stages []StageReport
	for _, sr := range d.Stages {
		if sr.Stage != nil && stageOfCase(sr.Stage, caseName) {
			stages = append(stages, sr)
		}
	}
	failed := false
	allPassed := true
	nresults := 0
	for _, sr := range stages {
		if len(failedResults(sr)) > 0 {
			failed = true
		}
		for _, r := range sr.Results {
			if r == nil {
				continue
			}
			nresults++
			if r.Status != store.StatusPassed {
				allPassed = false
			}
		}
	}
	name := suiteName(suite, d)
	what := "case " + caseName
	if caseName == "" {
		what = "suite stages"
	}
	switch {
	case failed:
		if policy(suite, false) != definition.AlertCase {
			return nil
		}
		var b strings.Builder
		writeHeader(&b, suite, d, baseURL)
		fmt.Fprintf(&b, "Case:      %s FAILED\n", caseOrSuite(caseName))
		var where []string
		nfail := 0
		for _, sr := range stages {
			fr := failedResults(sr)
			if len(fr) == 0 {
				continue
			}
			nfail += len(fr)
			on := fr[0].Slave
			if len(fr) > 1 {
				on = fmt.Sprintf("%d slaves", len(fr))
			}
			where = append(where, sr.Stage.Name+" on "+on)
		}
		fmt.Fprintf(&b, "\nFailures (%d):\n", nfail)
		for _, sr := range stages {
			writeFailures(&b, sr, d)
		}
		writeStageTable(&b, stages)
		writeTails(&b, stages)
		return []Message{{
			To:      to,
			Subject: subject(fmt.Sprintf("[xrdtest] suite %s session %d %s FAILED: %s", name, d.Session.ID, what, strings.Join(where, ", "))),
			Body:    b.String(),
		}}
	case allPassed && nresults > 0 && caseName != "":
		if policy(suite, true) != definition.AlertCase {
			return nil
		}
		var b strings.Builder
		writeHeader(&b, suite, d, baseURL)
		fmt.Fprintf(&b, "Case:      %s passed on all slaves\n", caseName)
		writeStageTable(&b, stages)
		return []Message{{
			To:      to,
			Subject: subject(fmt.Sprintf("[xrdtest] suite %s session %d %s passed", name, d.Session.ID, what)),
			Body:    b.String(),
		}}
	}
	return nil
}

func caseOrSuite(c string) string {
	if c == "" {
		return "(suite init/finalize)"
	}
	return c
}

func stageOfCase(st *store.Stage, caseName string) bool {
	if st.Case != "" {
		return st.Case == caseName
	}
	if caseName == "" {
		return !strings.Contains(st.Name, ":")
	}
	return strings.HasPrefix(st.Name, caseName+":")
}

// policy returns the policy that applies, with the defaults of
// DEFINITIONS.md b (SUITE on success, CASE on failure) when unset.
func policy(suite *definition.Suite, passed bool) definition.AlertPolicy {
	if passed {
		if suite.AlertSuccess == "" {
			return definition.AlertSuite
		}
		return suite.AlertSuccess
	}
	if suite.AlertFailure == "" {
		return definition.AlertCase
	}
	return suite.AlertFailure
}

// recipients returns the suite's addresses, trimmed, without CR/LF, empty
// entries and duplicates.
func recipients(suite *definition.Suite) []string {
	if suite == nil {
		return nil
	}
	var to []string
	seen := map[string]bool{}
	for _, a := range suite.AlertEmails {
		a = strings.TrimSpace(stripCRLF(a))
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		to = append(to, a)
	}
	return to
}

func suiteName(suite *definition.Suite, d SessionReport) string {
	if suite != nil && suite.Name != "" {
		return suite.Name
	}
	return d.Session.Suite
}

// stripCRLF replaces CR and LF (and other line breaks) by blanks.
func stripCRLF(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\v', '\f', 0x85, 0x2028, 0x2029:
			return ' '
		}
		return r
	}, s)
}

// subject makes s safe as a one-line header value.
func subject(s string) string {
	return strings.TrimSpace(stripCRLF(s))
}

func stateWord(s store.SessionState) string {
	if s == store.SessionPassed {
		return "passed"
	}
	if s == "" {
		return "UNKNOWN"
	}
	return strings.ToUpper(string(s))
}

func isFailure(s store.Status) bool {
	switch s {
	case store.StatusFailed, store.StatusTimeout, store.StatusLost, store.StatusCancelled:
		return true
	}
	return false
}

func failedResults(sr StageReport) []*store.Result {
	var out []*store.Result
	for _, r := range sr.Results {
		if r != nil && isFailure(r.Status) {
			out = append(out, r)
		}
	}
	return out
}

func countResults(sr StageReport) int {
	n := 0
	for _, r := range sr.Results {
		if r != nil {
			n++
		}
	}
	return n
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func writeHeader(b *strings.Builder, suite *definition.Suite, d SessionReport, baseURL string) {
	s := d.Session
	name := suiteName(suite, d)
	if suite != nil && suite.DescName != "" && suite.DescName != name {
		fmt.Fprintf(b, "Suite:     %s (%s)\n", name, stripCRLF(suite.DescName))
	} else {
		fmt.Fprintf(b, "Suite:     %s\n", name)
	}
	fmt.Fprintf(b, "Session:   %d\n", s.ID)
	state := stateWord(s.State)
	if s.Reason != "" {
		state += ": " + stripCRLF(s.Reason)
	}
	fmt.Fprintf(b, "State:     %s\n", state)
	if baseURL != "" {
		fmt.Fprintf(b, "Link:      %s/sessions/%d\n", strings.TrimRight(baseURL, "/"), s.ID)
	}
	if s.TriggeredBy != "" {
		fmt.Fprintf(b, "Triggered: %s\n", s.TriggeredBy)
	}
	if len(s.Machines) > 0 {
		fmt.Fprintf(b, "Machines:  %s\n", strings.Join(s.Machines, ", "))
	}
	if s.RepoRevision != "" {
		fmt.Fprintf(b, "Revision:  %s\n", s.RepoRevision)
	}
	start := s.Started
	if start.IsZero() {
		start = s.Created
	}
	fmt.Fprintf(b, "Started:   %s\n", fmtTime(start))
	if !s.Ended.IsZero() {
		fmt.Fprintf(b, "Ended:     %s\n", fmtTime(s.Ended))
		if !start.IsZero() && !s.Ended.Before(start) {
			fmt.Fprintf(b, "Duration:  %s\n", s.Ended.Sub(start).Round(time.Second))
		}
	}
}

func describeResult(r *store.Result) string {
	var parts []string
	parts = append(parts, string(r.Status))
	if r.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit code %d", *r.ExitCode))
	} else {
		parts = append(parts, "no exit code")
	}
	if !r.Start.IsZero() && !r.End.IsZero() && !r.End.Before(r.Start) {
		parts = append(parts, "after "+r.End.Sub(r.Start).Round(time.Millisecond).String())
	}
	s := strings.Join(parts, ", ")
	if r.Message != "" {
		s += ": " + stripCRLF(r.Message)
	}
	return s
}

func writeFailures(b *strings.Builder, sr StageReport, d SessionReport) {
	for _, r := range failedResults(sr) {
		fmt.Fprintf(b, "  stage %s on %s: %s%s\n", sr.Stage.Name, r.Slave, describeResult(r), seen(r, d))
	}
}

// seen says whether a failure is new or was seen before: " (new failure)",
// " (seen 12 times since 2026-03-01 03:00:00 UTC)"; "" when unknown.
func seen(r *store.Result, d SessionReport) string {
	f, ok := d.Fingerprints[r.Fingerprint]
	if r.Fingerprint == "" || !ok {
		return ""
	}
	if d.Session != nil && f.First.ID == d.Session.ID {
		return " (new failure)"
	}
	return fmt.Sprintf(" (seen %d times since %s)", f.Count, fmtTime(f.First.Created))
}

func writeStageTable(b *strings.Builder, stages []StageReport) {
	if len(stages) == 0 {
		return
	}
	b.WriteString("\nStages:\n")
	for _, sr := range stages {
		if sr.Stage == nil {
			continue
		}
		counts := map[store.Status]int{}
		var order []store.Status
		for _, r := range sr.Results {
			if r == nil {
				continue
			}
			if counts[r.Status] == 0 {
				order = append(order, r.Status)
			}
			counts[r.Status]++
		}
		var parts []string
		for _, st := range order {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
		summary := strings.Join(parts, ", ")
		if summary == "" {
			summary = "no results"
		}
		fmt.Fprintf(b, "  #%-3d %-30s %s\n", sr.Stage.Index, sr.Stage.Name, summary)
	}
}

func writeTails(b *strings.Builder, stages []StageReport) {
	for _, sr := range stages {
		for _, r := range failedResults(sr) {
			tail, ok := sr.OutputTail[r.Slave]
			if !ok {
				continue
			}
			fmt.Fprintf(b, "\n--- output of stage %s on %s (last lines) ---\n", sr.Stage.Name, r.Slave)
			tail = clipTail(tail)
			if tail == "" {
				b.WriteString("(no output)\n")
				continue
			}
			b.WriteString(tail)
			if !strings.HasSuffix(tail, "\n") {
				b.WriteByte('\n')
			}
		}
	}
}

// clipTail keeps the last maxTailLines lines and maxTailBytes bytes of s,
// with normalised line ends.
func clipTail(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if len(s) > maxTailBytes {
		s = s[len(s)-maxTailBytes:]
		if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
			s = s[i+1:]
		}
		s = strings.ToValidUTF8(s, "")
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > maxTailLines {
		lines = lines[len(lines)-maxTailLines:]
	}
	return strings.Join(lines, "")
}
