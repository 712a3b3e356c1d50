package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/store"
)

func intp(i int) *int { return &i }

var t0 = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)

func res(stage int, slave string, st store.Status, code *int, msg string) *store.Result {
	return &store.Result{SessionID: 42, Stage: stage, Slave: slave, Status: st, ExitCode: code, Message: msg,
		Start: t0.Add(time.Duration(stage) * time.Second), End: t0.Add(time.Duration(stage)*time.Second + 500*time.Millisecond)}
}

func stage(i int, name, c string, rs ...*store.Result) StageReport {
	return StageReport{Stage: &store.Stage{SessionID: 42, Index: i, Name: name, Case: c}, Results: rs}
}

// passedReport: suite_init, case a (init/run/finalize), case b, suite_finalize, all passed on m1 and m2.
func passedReport() SessionReport {
	ok := func(i int) []*store.Result {
		return []*store.Result{res(i, "m1.example.org", store.StatusPassed, intp(0), ""), res(i, "m2.example.org", store.StatusPassed, intp(0), "")}
	}
	names := []struct{ n, c string }{
		{"suite_init", ""}, {"a:init", "a"}, {"a:run", "a"}, {"a:finalize", "a"},
		{"b:init", "b"}, {"b:run", "b"}, {"b:finalize", "b"}, {"suite_finalize", ""},
	}
	d := SessionReport{Session: &store.Session{ID: 42, Suite: "xrootd_basic", State: store.SessionPassed,
		Machines: []string{"m1.example.org", "m2.example.org"}, Cases: []string{"a", "b"}, TriggeredBy: "schedule",
		Created: t0, Started: t0, Ended: t0.Add(83 * time.Second)}}
	for i, n := range names {
		d.Stages = append(d.Stages, stage(i, n.n, n.c, ok(i)...))
	}
	return d
}

// failedReport: b:run fails on m2 (exit 3, with output), a:finalize times out on m1.
func failedReport() SessionReport {
	d := passedReport()
	d.Session.State = store.SessionFailed
	d.Session.Reason = "case b failed"
	d.Stages[5].Results[1] = res(5, "m2.example.org", store.StatusFailed, intp(3), "")
	d.Stages[5].OutputTail = map[string]string{"m2.example.org": "starting xrootd\nxrdcp: [ERROR] Server responded with an error: [3011] No such file\n", "m1.example.org": "all good on m1\n"}
	d.Stages[3].Results[0] = res(3, "m1.example.org", store.StatusTimeout, nil, "killed after stage timeout 1m0s")
	d.Stages[3].OutputTail = map[string]string{"m1.example.org": "sleeping forever"}
	return d
}

func suite(success, failure definition.AlertPolicy, to ...string) *definition.Suite {
	return &definition.Suite{Name: "xrootd_basic", AlertEmails: to, AlertSuccess: success, AlertFailure: failure}
}

func TestSessionMails(t *testing.T) {
	const (
		S = definition.AlertSuite
		C = definition.AlertCase
		N = definition.AlertNone
	)
	to := []string{"alice@example.org", "bob@example.org"}
	tests := []struct {
		name             string
		suite            *definition.Suite
		report           SessionReport
		want             int
		subject          string
		contains, absent []string
	}{
		{"success SUITE", suite(S, N, to...), passedReport(), 1, "[xrdtest] suite xrootd_basic session 42 passed",
			[]string{"Suite:     xrootd_basic", "State:     passed", "Link:      http://master:8080/sessions/42", "Duration:  1m23s", "m1.example.org, m2.example.org", "b:run", "passed 2"},
			[]string{"Failures", "output of"}},
		{"success CASE", suite(C, N, to...), passedReport(), 1, "[xrdtest] suite xrootd_basic session 42 passed", nil, nil},
		{"success NONE", suite(N, S, to...), passedReport(), 0, "", nil, nil},
		{"success default policy", suite("", "", to...), passedReport(), 1, "[xrdtest] suite xrootd_basic session 42 passed", nil, nil},
		{"no recipients", suite(S, S), failedReport(), 0, "", nil, nil},
		{"failure SUITE", suite(N, S, to...), failedReport(), 1, "[xrdtest] suite xrootd_basic session 42 FAILED",
			[]string{"State:     FAILED: case b failed", "Failures (2):",
				"stage b:run on m2.example.org: failed, exit code 3",
				"stage a:finalize on m1.example.org: timeout, no exit code, after 500ms: killed after stage timeout 1m0s",
				"--- output of stage b:run on m2.example.org (last lines) ---\nstarting xrootd\nxrdcp: [ERROR] Server responded with an error: [3011] No such file\n",
				"sleeping forever\n", "passed 1, failed 1"},
			[]string{"all good on m1"}},
		{"failures new and seen before", suite(N, S, to...), func() SessionReport {
			d := failedReport()
			d.Stages[5].Results[1].Fingerprint = "fp-new"
			d.Stages[3].Results[0].Fingerprint = "fp-old"
			d.Fingerprints = map[string]store.Fingerprint{
				"fp-new": {ID: "fp-new", Count: 1, First: store.SessionRef{ID: 42, Created: t0}},
				"fp-old": {ID: "fp-old", Count: 12, First: store.SessionRef{ID: 7, Created: t0.Add(-48 * time.Hour)}},
			}
			return d
		}(), 1, "[xrdtest] suite xrootd_basic session 42 FAILED",
			[]string{"stage b:run on m2.example.org: failed, exit code 3, after 500ms (new failure)\n",
				"killed after stage timeout 1m0s (seen 12 times since " + fmtTime(t0.Add(-48*time.Hour)) + ")\n"}, nil},
		{"failure CASE", suite(N, C, to...), failedReport(), 1, "[xrdtest] suite xrootd_basic session 42 FAILED", []string{"exit code 3", "[3011] No such file"}, nil},
		{"failure NONE", suite(S, N, to...), failedReport(), 0, "", nil, nil},
		{"failure default policy", suite("", "", to...), failedReport(), 1, "[xrdtest] suite xrootd_basic session 42 FAILED", nil, nil},
		{"interrupted counts as failure", suite(N, S, to...), func() SessionReport {
			d := passedReport()
			d.Session.State = store.SessionInterrupted
			return d
		}(), 1, "[xrdtest] suite xrootd_basic session 42 INTERRUPTED", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := SessionMails(tt.suite, tt.report, "http://master:8080/")
			if len(msgs) != tt.want {
				t.Fatalf("got %d mails, want %d: %+v", len(msgs), tt.want, msgs)
			}
			for _, m := range msgs {
				if strings.Join(m.To, ",") != "alice@example.org,bob@example.org" {
					t.Errorf("To = %q", m.To)
				}
				if m.Subject != tt.subject {
					t.Errorf("Subject = %q, want %q", m.Subject, tt.subject)
				}
				for _, s := range tt.contains {
					if !strings.Contains(m.Body, s) {
						t.Errorf("body lacks %q:\n%s", s, m.Body)
					}
				}
				for _, s := range tt.absent {
					if strings.Contains(m.Body, s) {
						t.Errorf("body has %q:\n%s", s, m.Body)
					}
				}
			}
		})
	}
}

func TestCaseMails(t *testing.T) {
	const (
		S = definition.AlertSuite
		C = definition.AlertCase
		N = definition.AlertNone
	)
	suiteInitFailed := func() SessionReport {
		d := passedReport()
		d.Session.State = store.SessionFailed
		d.Stages[0].Results[0] = res(0, "m1.example.org", store.StatusFailed, intp(1), "")
		d.Stages[0].OutputTail = map[string]string{"m1.example.org": "cannot mount /data"}
		for i := 1; i < 7; i++ {
			for j := range d.Stages[i].Results {
				d.Stages[i].Results[j].Status = store.StatusSkipped
				d.Stages[i].Results[j].ExitCode = nil
			}
		}
		return d
	}
	tests := []struct {
		name     string
		suite    *definition.Suite
		report   SessionReport
		caseName string
		subjects []string
		contains []string
		absent   []string
	}{
		{"case a not passed, success CASE", suite(C, S, "a@x.org"), failedReport(), "a", nil, nil, nil}, // a:finalize timed out: not passed
		{"passed case b, success CASE", suite(C, C, "a@x.org"), passedReport(), "b", []string{"[xrdtest] suite xrootd_basic session 42 case b passed"},
			[]string{"Case:      b passed on all slaves", "b:finalize", "Link:      http://m/sessions/42"}, []string{"a:run", "suite_init"}},
		{"passed case, success SUITE", suite(S, C, "a@x.org"), passedReport(), "b", nil, nil, nil},
		{"passed case, success NONE", suite(N, C, "a@x.org"), passedReport(), "b", nil, nil, nil},
		{"failed case, failure CASE", suite(C, C, "a@x.org"), failedReport(), "b",
			[]string{"[xrdtest] suite xrootd_basic session 42 case b FAILED: b:run on m2.example.org"},
			[]string{"Case:      b FAILED", "Failures (1):", "stage b:run on m2.example.org: failed, exit code 3", "[3011] No such file", "b:init", "b:finalize",
				"Link:      http://m/sessions/42"},
			[]string{"all good on m1", "a:finalize", "sleeping forever"}},
		{"failed case a (timeout), failure CASE", suite(C, C, "a@x.org"), failedReport(), "a",
			[]string{"[xrdtest] suite xrootd_basic session 42 case a FAILED: a:finalize on m1.example.org"},
			[]string{"timeout, no exit code", "killed after stage timeout 1m0s", "sleeping forever"}, nil},
		{"failed case, failure SUITE", suite(C, S, "a@x.org"), failedReport(), "b", nil, nil, nil},
		{"failed case, failure NONE", suite(C, N, "a@x.org"), failedReport(), "b", nil, nil, nil},
		{"failed case, default policies", suite("", "", "a@x.org"), failedReport(), "b",
			[]string{"[xrdtest] suite xrootd_basic session 42 case b FAILED: b:run on m2.example.org"}, nil, nil},
		{"no recipients", suite(C, C), failedReport(), "b", nil, nil, nil},
		{"two slaves fail in two stages", suite(C, C, "a@x.org"), func() SessionReport {
			d := failedReport()
			d.Stages[5].Results[0] = res(5, "m1.example.org", store.StatusLost, nil, "slave lost")
			d.Stages[6].Results[0] = res(6, "m1.example.org", store.StatusFailed, intp(2), "")
			return d
		}(), "b", []string{
			"[xrdtest] suite xrootd_basic session 42 case b FAILED: b:run on 2 slaves, b:finalize on m1.example.org",
		}, []string{"Failures (3):", "stage b:run on m1.example.org: lost, no exit code, after 500ms: slave lost", "stage b:run on m2.example.org: failed, exit code 3",
			"stage b:finalize on m1.example.org: failed, exit code 2", "[3011] No such file"}, nil},
		{"skipped case: no mail", suite(C, C, "a@x.org"), suiteInitFailed(), "a", nil, nil, nil},
		{"suite stages failed", suite(C, C, "a@x.org"), suiteInitFailed(), "",
			[]string{"[xrdtest] suite xrootd_basic session 42 suite stages FAILED: suite_init on m1.example.org"},
			[]string{"exit code 1", "cannot mount /data"}, []string{"a:run"}},
		{"suite stages passed: no mail", suite(C, C, "a@x.org"), passedReport(), "", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := CaseMails(tt.suite, tt.report, tt.caseName, "http://m")
			if len(msgs) != len(tt.subjects) {
				t.Fatalf("got %d mails, want %d: %+v", len(msgs), len(tt.subjects), msgs)
			}
			for i, m := range msgs {
				if m.Subject != tt.subjects[i] {
					t.Errorf("Subject = %q, want %q", m.Subject, tt.subjects[i])
				}
				if len(m.To) != 1 || m.To[0] != "a@x.org" {
					t.Errorf("To = %q", m.To)
				}
			}
			if len(msgs) > 0 {
				for _, s := range tt.contains {
					found := false
					for _, m := range msgs {
						found = found || strings.Contains(m.Body, s)
					}
					if !found {
						t.Errorf("no body has %q:\n%s", s, msgs[0].Body)
					}
				}
				for _, s := range tt.absent {
					for _, m := range msgs {
						if strings.Contains(m.Body, s) {
							t.Errorf("body has %q:\n%s", s, m.Body)
						}
					}
				}
			}
		})
	}
}

func TestSubjectHasNoLineBreaks(t *testing.T) {
	s := suite(definition.AlertSuite, definition.AlertSuite, "a@x.org\r\nBcc: evil@x.org", " a@x.org ")
	s.Name = "evil\r\nBcc: victim@x.org"
	d := passedReport()
	msgs := SessionMails(s, d, "")
	if len(msgs) != 1 {
		t.Fatalf("got %d mails", len(msgs))
	}
	m := msgs[0]
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject has a line break: %q", m.Subject)
	}
	for _, a := range m.To {
		if strings.ContainsAny(a, "\r\n") {
			t.Errorf("recipient has a line break: %q", a)
		}
	}
	if strings.Contains(m.Body, "Link:") {
		t.Errorf("link without base URL:\n%s", m.Body)
	}
}

func TestClipTail(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("\r\n")
	}
	got := clipTail(b.String())
	if n := strings.Count(got, "\n"); n != maxTailLines {
		t.Errorf("%d lines, want %d", n, maxTailLines)
	}
	if strings.Contains(got, "\r") {
		t.Error("CR kept")
	}
	big := strings.Repeat("y", 3*maxTailBytes) + "\nlast line"
	got = clipTail(big)
	if len(got) > maxTailBytes || !strings.HasSuffix(got, "last line") {
		t.Errorf("clipTail(big) = %d bytes, suffix %q", len(got), got[max(0, len(got)-10):])
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go NotifyAll(ctx, &r, []Message{{To: []string{"a@x"}, Subject: "1"}, {To: []string{"b@x"}, Subject: "2"}})
	msgs, err := r.Wait(ctx, 2)
	if err != nil || len(msgs) != 2 || msgs[0].Subject != "1" || msgs[1].To[0] != "b@x" {
		t.Fatalf("Wait = %+v, %v", msgs, err)
	}
	r.Reset()
	short, c2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer c2()
	if msgs, err := r.Wait(short, 1); err == nil || len(msgs) != 0 {
		t.Fatalf("Wait after Reset = %+v, %v", msgs, err)
	}
}
