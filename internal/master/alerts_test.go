package master_test

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"

	"github.com/emersion/go-smtp"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/notify"
	"github.com/xrdtest/xrdtest/internal/store"
)

// mailServer is an in-process SMTP server on loopback that passes every
// mail it receives, decoded, with the state the session had then.
type mailServer struct {
	mails chan gotMail
	state func() store.SessionState
}

type gotMail struct {
	To            []string
	Subject, Body string
	SessionState  store.SessionState // when the mail arrived
}

func (b *mailServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{b: b}, nil }

type mailSession struct {
	b  *mailServer
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *mailSession) Reset()                                    { s.to = nil }
func (s *mailSession) Logout() error                             { return nil }

func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	s.b.mails <- gotMail{To: s.to, Subject: subj, Body: strings.ReplaceAll(string(b), "\r\n", "\n"), SessionState: s.b.state()}
	return nil
}

func startMailServer(t *testing.T, state func() store.SessionState) (*mailServer, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	be := &mailServer{mails: make(chan gotMail, 16), state: state}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return be, ln.Addr().(*net.TCPAddr).Port
}

func (b *mailServer) next(t *testing.T) gotMail {
	t.Helper()
	select {
	case m := <-b.mails:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no mail")
	}
	return gotMail{}
}

// TestCaseAlertsAsCasesEnd: with CASE policies each test case's mail goes
// out over SMTP when the case ends, while the session still runs (case b
// waits until case a's mail has arrived), naming its case, the stages
// that failed on which slaves and their output; the session's mail comes
// at the end. With SUITE only the session's mail is sent.
func TestCaseAlertsAsCasesEnd(t *testing.T) {
	for _, tt := range []struct {
		policy definition.AlertPolicy
		want   int // mails
	}{{definition.AlertCase, 3}, {definition.AlertSuite, 1}} {
		t.Run(string(tt.policy), func(t *testing.T) {
			dir := t.TempDir()
			gate, gate2 := filepath.Join(dir, "gate"), filepath.Join(dir, "gate2")
			repo := filepath.Join(dir, "repo")
			files := map[string]string{
				"clusters/cluster_t.py": twoHosts,
				"test-suites/ts/test_suite.py": "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = ['a', 'b']\n" +
					"    ts.schedule = dict(hour='1')\n    ts.initialize = '#!/bin/bash\\necho init'\n    ts.finalize = 'file://fin.sh'\n    ts.alert_emails = ['ops@example.org']\n" +
					"    ts.alert_success = '" + string(tt.policy) + "'\n    ts.alert_failure = '" + string(tt.policy) + "'\n    return ts\n",
				"test-suites/ts/tc/a/run.sh": "#!/bin/bash\necho 'checking the disk'\n[ @slavename@ = h2.xrd.test ] && { echo 'the disk is full' >&2; exit 3; }\nexit 0\n",
				// b runs until the test opens the gate, suite_finalize until
				// it opens gate2 (or 5 s).
				"test-suites/ts/tc/b/run.sh": "#!/bin/bash\nfor i in $(seq 50); do [ -e " + gate + " ] && exit 0; sleep 0.1; done\n",
				"test-suites/ts/fin.sh":      "#!/bin/bash\nfor i in $(seq 50); do [ -e " + gate2 + " ] && exit 0; sleep 0.1; done\n",
			}
			testutil.WriteFiles(t, repo, files)
			// Set once the session started; read by the mail server.
			var started atomic.Pointer[struct {
				m  *master.Master
				id int64
			}]
			state := func() store.SessionState {
				st := started.Load()
				if st == nil {
					return ""
				}
				s, err := st.m.Store.Session(context.Background(), st.id)
				if err != nil {
					return ""
				}
				return s.State
			}
			srv, port := startMailServer(t, state)
			mailer := notify.NewSMTP(notify.Config{Host: "127.0.0.1", Port: port, TLS: notify.TLSNone, From: "xrdtest@example.org"}, logger())
			defer mailer.Close(context.Background())
			m := mastertest.Open(t, master.Options{
				StateDir: filepath.Join(dir, "state"), Token: token, Log: logger(),
				Repos:    []definition.Repo{{Root: repo}},
				Settings: mastertest.Settings(10 * time.Second),
				Notifier: mailer, BaseURL: "https://xrdtest.example.org",
			})
			defer mastertest.Serve(m)()
			defer runAgents(t, m, hosts...)()
			s := mastertest.StartSession(t, m, "ts")
			started.Store(&struct {
				m  *master.Master
				id int64
			}{m, s.ID})
			var got []gotMail
			if tt.policy == definition.AlertCase {
				a := srv.next(t)
				os.WriteFile(gate, nil, 0o644)
				b := srv.next(t)
				os.WriteFile(gate2, nil, 0o644)
				got = append(got, a, b, srv.next(t))
				if a.SessionState != store.SessionRunning {
					t.Errorf("case a's mail arrived with the session %s, want running", a.SessionState)
				}
				for _, want := range []string{"[xrdtest] suite ts session 1 case a FAILED: a:run on h2.xrd.test",
					"Case:      a FAILED", "stage a:run on h2.xrd.test: failed, exit code 3", "the disk is full",
					"Link:      https://xrdtest.example.org/sessions/1"} {
					if !strings.Contains(a.Subject+"\n"+a.Body, want) {
						t.Errorf("case a's mail lacks %q:\n%s\n%s", want, a.Subject, a.Body)
					}
				}
				if strings.Contains(a.Body, "b:run") || strings.Contains(a.Body, "a:run on h1.xrd.test (last lines)") {
					t.Errorf("case a's mail tells of case b or of a slave that passed:\n%s", a.Body)
				}
				if b.Subject != "[xrdtest] suite ts session 1 case b passed" || !strings.Contains(b.Body, "Case:      b passed on all slaves") || b.SessionState != store.SessionRunning {
					t.Errorf("case b's mail (session %s): %s\n%s", b.SessionState, b.Subject, b.Body)
				}
			} else {
				os.WriteFile(gate, nil, 0o644)
				os.WriteFile(gate2, nil, 0o644)
				got = append(got, srv.next(t))
			}
			last := got[len(got)-1]
			if last.Subject != "[xrdtest] suite ts session 1 FAILED" || !strings.Contains(last.Body, "the disk is full") || last.SessionState != store.SessionFailed {
				t.Errorf("session mail (session %s): %s\n%s", last.SessionState, last.Subject, last.Body)
			}
			for _, g := range got {
				if len(g.To) != 1 || g.To[0] != "ops@example.org" {
					t.Errorf("mail to %v", g.To)
				}
			}
			if ss, _ := m.Manager.Wait(context.Background(), s.ID); ss.State != store.SessionFailed {
				t.Errorf("session %s", ss.State)
			}
			select {
			case extra := <-srv.mails:
				t.Errorf("more than %d mails: %s", tt.want, extra.Subject)
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

// TestAlertNewFailure: the first failure of its kind is a "new failure" in
// the alert mail; the same failure next time, with another pid and time,
// was "seen 2 times since" the first.
func TestAlertNewFailure(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	testutil.WriteFiles(t, repo, map[string]string{
		"clusters/cluster_t.py": twoHosts,
		"test-suites/ts/test_suite.py": "def getTestSuite():\n    ts = TestSuite('ts')\n    ts.clusters = ['cluster_t']\n    ts.tests = ['a']\n" +
			"    ts.schedule = dict(hour='1')\n    ts.alert_emails = ['ops@example.org']\n    ts.alert_failure = 'SUITE'\n    ts.initialize = '#!/bin/bash\\necho init'\n    return ts\n",
		"test-suites/ts/tc/a/run.sh": "#!/bin/bash\n[ @slavename@ = h2.xrd.test ] && { echo \"daemon $$ died at $(date +%T.%N)\"; exit 3; }\nexit 0\n",
	})
	srv, port := startMailServer(t, func() store.SessionState { return "" })
	mailer := notify.NewSMTP(notify.Config{Host: "127.0.0.1", Port: port, TLS: notify.TLSNone, From: "xrdtest@example.org"}, logger())
	defer mailer.Close(context.Background())
	m := mastertest.Open(t, master.Options{
		StateDir: filepath.Join(dir, "state"), Token: token, Log: logger(),
		Repos: []definition.Repo{{Root: repo}}, Settings: mastertest.Settings(10 * time.Second), Notifier: mailer,
	})
	if errs := m.Definitions().Diagnostics.Errors(); len(errs) > 0 {
		t.Fatalf("definitions: %v", errs)
	}
	defer mastertest.Serve(m)()
	defer runAgents(t, m, hosts...)()
	first := mastertest.StartSession(t, m, "ts")
	mail := srv.next(t)
	if !strings.Contains(mail.Body, "(new failure)\n") || !strings.Contains(mail.Body, "stage a:run on h2.xrd.test: failed, exit code 3") {
		t.Errorf("first mail:\n%s", mail.Body)
	}
	m.Manager.Wait(context.Background(), first.ID)
	fs, err := m.Store.Session(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	mastertest.StartSession(t, m, "ts")
	mail = srv.next(t)
	if want := "(seen 2 times since " + fs.Created.Local().Format("2006-01-02 15:04:05 MST") + ")\n"; !strings.Contains(mail.Body, want) ||
		strings.Contains(mail.Body, "new failure") {
		t.Errorf("second mail lacks %q:\n%s", want, mail.Body)
	}
}
