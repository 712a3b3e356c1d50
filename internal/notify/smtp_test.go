package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

// received is one mail as seen by the test server.
type received struct {
	From    string
	To      []string
	Data    []byte
	User    string // authenticated user, "" when none
	TLS     bool
	Subject string
	Body    string
}

type backend struct {
	user, pass   string // required credentials when user != ""
	insecureAuth bool   // AUTH offered without TLS too
	mails        chan received
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, c: c}, nil
}

type session struct {
	b    *backend
	c    *smtp.Conn
	user string
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.b.user || password != s.b.pass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = data
	s.cur.User = s.user
	_, s.cur.TLS = s.c.TLSConnectionState()
	s.b.mails <- s.cur
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// startServer serves SMTP on ln (127.0.0.1) until the test ends.
func startServer(t *testing.T, ln net.Listener, be *backend, tlsConfig *tls.Config) {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.TLSConfig = tlsConfig // non-nil: STARTTLS offered, AUTH only after it
	srv.AllowInsecureAuth = be.insecureAuth
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = discardLog{}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}
func (discardLog) Println(...any)        {}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// selfSigned returns a server TLS config for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	cert, key := testutil.SelfSigned(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "xrdtest test SMTP"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	})
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}}, pool
}

// parse fills Subject and Body (decoded) from Data.
func parse(t *testing.T, r received) received {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("bad mail: %v\n%s", err, r.Data)
	}
	dec := new(mime.WordDecoder)
	r.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		t.Fatalf("unexpected base64 body")
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	r.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	return r
}

func wait(t *testing.T, be *backend, d time.Duration) received {
	t.Helper()
	select {
	case r := <-be.mails:
		return parse(t, r)
	case <-time.After(d):
		t.Fatal("no mail received")
	}
	return received{}
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer = testutil.SyncBuffer

func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func closeSMTP(t *testing.T, s *SMTP) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

var sample = Message{
	To:      []string{"alice@example.org", "bob@example.org"},
	Subject: "[xrdtest] suite xrootd_basic session 42 FAILED",
	Body:    "Suite:     xrootd_basic\nSession:   42\n\n--- output ---\nxrdcp: [ERROR] 100% failed, é ünïcode\n.\nend\n",
}

func checkSample(t *testing.T, r received, from string) {
	t.Helper()
	if r.From != from {
		t.Errorf("envelope From = %q, want %q", r.From, from)
	}
	if strings.Join(r.To, ",") != "alice@example.org,bob@example.org" {
		t.Errorf("envelope To = %q", r.To)
	}
	if r.Subject != sample.Subject {
		t.Errorf("Subject = %q", r.Subject)
	}
	if strings.TrimRight(r.Body, "\n") != strings.TrimRight(sample.Body, "\n") {
		t.Errorf("Body = %q, want %q", r.Body, sample.Body)
	}
	msg, _ := mail.ReadMessage(bytes.NewReader(r.Data))
	if got := msg.Header.Get("From"); !strings.Contains(got, from) {
		t.Errorf("From header = %q", got)
	}
	if got := msg.Header.Get("To"); !strings.Contains(got, "alice@example.org") || !strings.Contains(got, "bob@example.org") {
		t.Errorf("To header = %q", got)
	}
	if msg.Header.Get("Auto-Submitted") != "auto-generated" || msg.Header.Get("Date") == "" || msg.Header.Get("Message-Id") == "" {
		t.Errorf("headers: %v", msg.Header)
	}
}

func TestSMTPPlain(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	be := &backend{mails: make(chan received, 10)}
	startServer(t, ln, be, nil)
	log, buf := testLogger()
	s := NewSMTP(Config{Host: "127.0.0.1", Port: port(ln), TLS: "none", From: "xrdtest@master.example.org", Timeout: 5 * time.Second}, log)
	defer closeSMTP(t, s)
	s.Notify(context.Background(), sample)
	r := wait(t, be, 10*time.Second)
	checkSample(t, r, "xrdtest@master.example.org")
	if r.TLS || r.User != "" {
		t.Errorf("TLS %v user %q", r.TLS, r.User)
	}
	closeSMTP(t, s)
	if !strings.Contains(buf.String(), "alert mail sent") {
		t.Errorf("log:\n%s", buf)
	}
}

const secret = "s3cr3t-Pa55w0rd"

func TestSMTPStartTLSAuth(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	srvTLS, pool := selfSigned(t)
	be := &backend{user: "xrdtest", pass: secret, mails: make(chan received, 10)}
	startServer(t, ln, be, srvTLS)
	log, buf := testLogger()
	cfg := Config{Host: "127.0.0.1", Port: port(ln), Username: "xrdtest", Password: secret,
		From: "master@example.org", Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: pool}}
	s := NewSMTP(cfg, log)
	s.Notify(context.Background(), sample)
	r := wait(t, be, 10*time.Second)
	checkSample(t, r, "master@example.org")
	if !r.TLS || r.User != "xrdtest" {
		t.Errorf("TLS %v user %q", r.TLS, r.User)
	}
	closeSMTP(t, s)
	log.Info("config", "smtp", cfg)
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Errorf("password in log:\n%s", out)
	}
	if !strings.Contains(out, "password_set=true") {
		t.Errorf("config not logged:\n%s", out)
	}
}

// An untrusted certificate fails (and is retried), never silently accepted.
func TestSMTPStartTLSUntrusted(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	srvTLS, _ := selfSigned(t)
	be := &backend{mails: make(chan received, 10)}
	startServer(t, ln, be, srvTLS)
	log, buf := testLogger()
	s := newSMTP(Config{Host: "127.0.0.1", Port: port(ln), From: "m@example.org", Timeout: 5 * time.Second}, log,
		options{maxAttempts: 2, minBackoff: 10 * time.Millisecond, maxBackoff: 10 * time.Millisecond})
	s.Notify(context.Background(), sample)
	closeSMTP(t, s)
	select {
	case <-be.mails:
		t.Fatal("mail sent over an untrusted TLS connection")
	default:
	}
	if out := buf.String(); !strings.Contains(out, "too many failed attempts") || !strings.Contains(out, "certificate") {
		t.Errorf("log:\n%s", out)
	}
}

func TestSMTPWrongPasswordNotLogged(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	srvTLS, pool := selfSigned(t)
	be := &backend{user: "xrdtest", pass: "the-right-one", mails: make(chan received, 10)}
	startServer(t, ln, be, srvTLS)
	log, buf := testLogger()
	cfg := Config{Host: "127.0.0.1", Port: port(ln), Username: "xrdtest", Password: secret,
		From: "m@example.org", Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: pool}}
	s := newSMTP(cfg, log, options{maxAttempts: 3, minBackoff: 10 * time.Millisecond, maxBackoff: 20 * time.Millisecond})
	s.Notify(context.Background(), sample)
	closeSMTP(t, s)
	out := buf.String()
	if !strings.Contains(out, "alert mail dropped") || !strings.Contains(out, "535") {
		t.Errorf("log:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("password in log:\n%s", out)
	}
}

func TestSMTPUnreachableThenUp(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	p := port(ln)
	ln.Close() // nothing listens there now
	log, buf := testLogger()
	cfg := Config{Host: "127.0.0.1", Port: p, TLS: "none", From: "m@example.org", Timeout: 2 * time.Second, Password: secret}
	s := newSMTP(cfg, log, options{maxAttempts: 1000, minBackoff: 10 * time.Millisecond, maxBackoff: 50 * time.Millisecond})
	defer closeSMTP(t, s)

	start := time.Now()
	for range 5 {
		s.Notify(context.Background(), sample)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Notify blocked %v", d)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(buf.String(), "will retry") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no retries logged:\n%s", buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.Pending(); n != 5 {
		t.Errorf("Pending = %d, want 5", n)
	}

	ln2, err := net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	be := &backend{mails: make(chan received, 10)}
	startServer(t, ln2, be, nil)
	for range 5 {
		checkSample(t, wait(t, be, 10*time.Second), "m@example.org")
	}
	closeSMTP(t, s)
	out := buf.String()
	if !strings.Contains(out, "connection refused") {
		t.Errorf("failure cause not logged:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("password in log")
	}
}

func TestCloseGivesUp(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	ln.Close()
	log, buf := testLogger()
	s := newSMTP(Config{Host: "127.0.0.1", Port: port(ln), TLS: "none", From: "m@example.org"}, log,
		options{minBackoff: time.Hour, maxBackoff: time.Hour})
	s.Notify(context.Background(), sample)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if !strings.Contains(buf.String(), "dropped at shutdown") {
		t.Errorf("log:\n%s", buf)
	}
	s.Notify(context.Background(), sample) // after Close: dropped, no panic
	if !strings.Contains(buf.String(), "notifier closed") {
		t.Errorf("log:\n%s", buf)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// Close giving up during an attempt returns, the mail reported dropped.
func TestCloseGivesUpMidAttempt(t *testing.T) {
	log, buf := testLogger()
	sending := make(chan struct{}, 1)
	s := newSMTP(Config{}, log, options{send: func(ctx context.Context, m Message) error {
		sending <- struct{}{}
		<-ctx.Done() // as a delivery to a server that does not answer
		return ctx.Err()
	}})
	s.Notify(context.Background(), sample)
	<-sending
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		closed <- s.Close(ctx)
	}()
	go func() { // the old worker retried at once, forever
		for range sending {
		}
	}()
	select {
	case err := <-closed:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(buf.String(), "dropped at shutdown") {
			t.Errorf("Close = %v; log:\n%s", err, buf)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestQueueDropsOldest(t *testing.T) {
	log, buf := testLogger()
	started := make(chan string, 10)
	release := make(chan struct{})
	var mu sync.Mutex
	var sent []string
	send := func(ctx context.Context, m Message) error {
		started <- m.Subject
		<-release
		mu.Lock()
		sent = append(sent, m.Subject)
		mu.Unlock()
		return nil
	}
	s := newSMTP(Config{}, log, options{queueSize: 2, send: send})
	msg := func(s string) Message { return Message{To: []string{"a@x.org"}, Subject: s} }
	s.Notify(context.Background(), msg("m1"))
	if got := <-started; got != "m1" {
		t.Fatalf("first sent %q", got)
	}
	for _, n := range []string{"m2", "m3", "m4"} {
		s.Notify(context.Background(), msg(n))
	}
	s.Notify(context.Background(), Message{Subject: "no recipients"})
	close(release)
	closeSMTP(t, s)
	if got := strings.Join(sent, ","); got != "m1,m3,m4" {
		t.Errorf("sent %s", got)
	}
	if out := buf.String(); !strings.Contains(out, "oldest mail dropped") || !strings.Contains(out, "subject=m2") {
		t.Errorf("log:\n%s", out)
	}
}

func TestPermanentNotRetried(t *testing.T) {
	log, buf := testLogger()
	calls := 0
	s := newSMTP(Config{}, log, options{minBackoff: time.Millisecond, send: func(ctx context.Context, m Message) error {
		calls++
		return permanentError{errors.New("bad recipient")}
	}})
	s.Notify(context.Background(), Message{To: []string{"x"}, Subject: "s"})
	closeSMTP(t, s)
	if calls != 1 || !strings.Contains(buf.String(), "permanent failure") {
		t.Errorf("calls %d, log:\n%s", calls, buf)
	}
}

func TestBadRecipientIsPermanent(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	be := &backend{mails: make(chan received, 10)}
	startServer(t, ln, be, nil)
	log, buf := testLogger()
	s := NewSMTP(Config{Host: "127.0.0.1", Port: port(ln), TLS: "none", From: "m@example.org"}, log)
	s.Notify(context.Background(), Message{To: []string{"not an address"}, Subject: "s", Body: "b"})
	closeSMTP(t, s)
	if !strings.Contains(buf.String(), "bad recipient") {
		t.Errorf("log:\n%s", buf)
	}
}

func TestBackoff(t *testing.T) {
	s := &SMTP{opt: defaultOptions()}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, w := range want {
		if got := s.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := s.backoff(20); got != 5*time.Minute {
		t.Errorf("backoff(20) = %v", got)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		port int
		ok   bool
	}{
		{Config{Host: "h"}, 587, true},
		{Config{Host: "h", TLS: "none"}, 25, true},
		{Config{Host: "h", TLS: "TLS"}, 465, true},
		{Config{Host: "h", TLS: "ssl"}, 587, false},
		{Config{}, 587, false},
	} {
		if c.cfg.port() != c.port || (c.cfg.Validate() == nil) != c.ok {
			t.Errorf("%+v: port %d, Validate %v", c.cfg, c.cfg.port(), c.cfg.Validate())
		}
	}
	c := Config{Host: "h", Username: "u", Password: secret}
	if strings.Contains(c.String(), secret) {
		t.Error("password in String")
	}
}

// With tls = none, PLAIN (all the test server offers) goes to a local
// relay, where the password never leaves the machine.
func TestSMTPNoTLSAuthLoopback(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	be := &backend{user: "xrdtest", pass: secret, insecureAuth: true, mails: make(chan received, 10)}
	startServer(t, ln, be, nil)
	log, buf := testLogger()
	s := NewSMTP(Config{Host: "127.0.0.1", Port: port(ln), TLS: "none", Username: "xrdtest", Password: secret,
		From: "m@example.org", Timeout: 5 * time.Second}, log)
	s.Notify(context.Background(), sample)
	r := wait(t, be, 10*time.Second)
	if r.TLS || r.User != "xrdtest" {
		t.Errorf("TLS %v user %q", r.TLS, r.User)
	}
	closeSMTP(t, s)
	if strings.Contains(buf.String(), secret) {
		t.Errorf("password in log:\n%s", buf)
	}
}

// To another host, PLAIN without TLS is never used: the mail fails at
// once, saying what to change, and is not retried.
func TestSMTPNoTLSAuthRemoteRefused(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	be := &backend{user: "xrdtest", pass: secret, insecureAuth: true, mails: make(chan received, 10)}
	startServer(t, ln, be, nil)
	log, buf := testLogger()
	var d net.Dialer
	cfg := Config{Host: "smtp.example.org", Port: 25, TLS: "none", Username: "xrdtest", Password: secret,
		From: "m@example.org", Timeout: 5 * time.Second,
		dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, ln.Addr().String())
		}}
	s := newSMTP(cfg, log, options{maxAttempts: 3, minBackoff: 10 * time.Millisecond, maxBackoff: 10 * time.Millisecond})
	s.Notify(context.Background(), sample)
	closeSMTP(t, s)
	select {
	case <-be.mails:
		t.Fatal("mail sent: the password went in clear")
	default:
	}
	out := buf.String()
	if !strings.Contains(out, "permanent failure") || !strings.Contains(out, "attempts=1") ||
		!strings.Contains(out, "set [smtp] tls = starttls or tls") || strings.Contains(out, secret) {
		t.Errorf("log:\n%s", out)
	}
	if !IsLoopback("localhost") || !IsLoopback("::1") || !IsLoopback("127.0.0.2") || IsLoopback("smtp.example.org") || IsLoopback("10.0.0.1") {
		t.Error("IsLoopback")
	}
}

// failing is a delivery that always fails as an unreachable server does,
// counting its calls.
func failing(calls *atomic.Int64) func(context.Context, Message) error {
	return func(context.Context, Message) error {
		calls.Add(1)
		return errors.New("dial tcp 192.0.2.1:587: connect: connection refused")
	}
}

// By default a mail outlives many failed attempts (8 used to be the end:
// 2 minutes of outage lost it).
func TestRetryOutlivesAttempts(t *testing.T) {
	log, buf := testLogger()
	var calls atomic.Int64
	s := newSMTP(Config{}, log, options{minBackoff: time.Millisecond, maxBackoff: time.Millisecond, send: failing(&calls)})
	defer func() { // Close waits for the retries: give up at once
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Close(ctx)
	}()
	s.Notify(context.Background(), sample)
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 30 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := calls.Load(); n < 30 || s.Pending() != 1 || strings.Contains(buf.String(), "dropped") {
		t.Errorf("%d attempts, pending %d; log:\n%s", n, s.Pending(), buf)
	}
	if d := defaultOptions(); d.retryFor < time.Hour || d.maxAttempts != 0 {
		t.Errorf("defaults: retry for %v, %d attempts at most", d.retryFor, d.maxAttempts)
	}
}

// The retries end with the window, logged once; failures are logged at
// attempts 1, 2, 4, 8..., not at each.
func TestRetryWindow(t *testing.T) {
	log, buf := testLogger()
	var calls atomic.Int64
	start := time.Now()
	s := newSMTP(Config{}, log, options{retryFor: 300 * time.Millisecond, minBackoff: 5 * time.Millisecond, maxBackoff: 20 * time.Millisecond, send: failing(&calls)})
	s.Notify(context.Background(), sample)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "still failing after 300ms") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	closeSMTP(t, s)
	out := buf.String()
	n := int(calls.Load())
	if strings.Count(out, "alert mail dropped") != 1 || !strings.Contains(out, "still failing after 300ms") || elapsed < 300*time.Millisecond || n < 9 {
		t.Fatalf("%d attempts in %v; log:\n%s", n, elapsed, out)
	}
	warns := 0
	for a := 1; a < n; a *= 2 {
		warns++
	}
	if got := strings.Count(out, "level=WARN msg=\"alert mail delivery failed"); got != warns {
		t.Errorf("%d warnings for %d attempts, want %d; log:\n%s", got, n, warns, out)
	}
}
