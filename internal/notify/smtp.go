package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
)

// TLS modes of [Config].
const (
	TLSNone     = "none"     // plain SMTP (default port 25); AUTH: see [Config]
	TLSStartTLS = "starttls" // STARTTLS, mandatory (default mode, default port 587)
	TLSImplicit = "tls"      // implicit TLS, "SMTPS" (default port 465)
)

// Config is the SMTP configuration of the master.
type Config struct {
	Host string
	Port int    // 0: 25, 587 or 465 by TLS mode
	TLS  string // TLSNone, TLSStartTLS (default when empty) or TLSImplicit
	// Username and Password: SMTP AUTH (the best mechanism offered) when
	// Username is not empty. PLAIN and LOGIN send the password in clear,
	// so with TLSNone they are used only when Host is a loopback name or
	// address (a local relay: the password never leaves the machine);
	// otherwise only a challenge-response mechanism (SCRAM, CRAM-MD5,
	// NTLM), and a server offering none fails each mail at once, saying
	// so. The password is never logged.
	Username string
	Password string
	From     string        // envelope and header sender; default "xrdtest@localhost"
	Timeout  time.Duration // per delivery attempt (dial to QUIT); default 30s
	// TLSConfig, optional, e.g. to trust a private CA (RootCAs). It is
	// cloned; an empty ServerName is set to Host.
	TLSConfig *tls.Config

	dial mail.DialContextFunc // tests: reach a named host on a local port
}

// IsLoopback reports whether host is "localhost" or a loopback address:
// a server there is reached without crossing the network. Names other
// than localhost are not resolved.
func IsLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// LogValue implements slog.LogValuer: everything but the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host),
		slog.Int("port", c.port()),
		slog.String("tls", c.tlsMode()),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != ""),
		slog.String("from", c.from()),
	)
}

// String is the same as LogValue, for %v.
func (c Config) String() string {
	return fmt.Sprintf("smtp://%s@%s:%d tls=%s from=%s", c.Username, c.Host, c.port(), c.tlsMode(), c.from())
}

func (c Config) tlsMode() string {
	if c.TLS == "" {
		return TLSStartTLS
	}
	return strings.ToLower(c.TLS)
}

func (c Config) port() int {
	if c.Port > 0 {
		return c.Port
	}
	switch c.tlsMode() {
	case TLSNone:
		return mail.DefaultPort
	case TLSImplicit:
		return mail.DefaultPortSSL
	}
	return mail.DefaultPortTLS
}

func (c Config) from() string {
	if c.From == "" {
		return "xrdtest@localhost"
	}
	return c.From
}

func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 30 * time.Second
	}
	return c.Timeout
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Host == "" {
		return errors.New("notify: no SMTP host")
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("notify: bad SMTP port %d", c.Port)
	}
	switch c.tlsMode() {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("notify: bad SMTP TLS mode %q (want none, starttls or tls)", c.TLS)
	}
	return nil
}

// Defaults of the queue of [SMTP].
const (
	DefaultQueueSize  = 100
	DefaultRetryFor   = 24 * time.Hour // a night's outage of the mail server
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

type options struct {
	queueSize   int
	retryFor    time.Duration // from the enqueueing; then the mail is dropped
	maxAttempts int           // 0: no limit (tests)
	minBackoff  time.Duration
	maxBackoff  time.Duration
	// send replaces the SMTP delivery (nil: go-mail).
	send func(ctx context.Context, m Message) error
}

func defaultOptions() options {
	return options{
		queueSize:  DefaultQueueSize,
		retryFor:   DefaultRetryFor,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
	}
}

type item struct {
	m        Message
	seq      uint64 // enqueue order
	queued   time.Time
	attempts int
	next     time.Time // not before
}

// SMTP is a [Notifier] that sends mails with SMTP from a background queue.
// Notify only enqueues: when the queue (DefaultQueueSize) is full the
// oldest waiting mail is dropped, with a log line. One worker delivers the
// mails, one connection per mail; a failed delivery is retried with
// exponential backoff (1s, 2s, 4s... at most 5m) for DefaultRetryFor after
// the mail was queued, so that an outage of the mail server loses no mail,
// then dropped with a log line. Failures are logged at attempts 1, 2, 4,
// 8..., the others at debug level. Permanent errors (bad address, 5xx
// reply, bad configuration) are not retried. Use Close to drain the queue.
type SMTP struct {
	cfg Config
	log *slog.Logger
	opt options

	mu       sync.Mutex
	queue    []*item
	seq      uint64
	closed   bool
	inflight bool

	wake      chan struct{} // capacity 1
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{} // closed when the worker exits
	closeOnce sync.Once
}

var _ Notifier = (*SMTP)(nil)

// NewSMTP starts the sender. log may be nil (slog.Default). A configuration
// error is logged here and each mail is then dropped with a log line.
func NewSMTP(cfg Config, log *slog.Logger) *SMTP {
	return newSMTP(cfg, log, defaultOptions())
}

func newSMTP(cfg Config, log *slog.Logger, opt options) *SMTP {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "notify")
	d := defaultOptions()
	if opt.queueSize <= 0 {
		opt.queueSize = d.queueSize
	}
	if opt.retryFor <= 0 {
		opt.retryFor = d.retryFor
	}
	if opt.minBackoff <= 0 {
		opt.minBackoff = d.minBackoff
	}
	if opt.maxBackoff < opt.minBackoff {
		opt.maxBackoff = opt.minBackoff
	}
	s := &SMTP{
		cfg:  cfg,
		log:  log,
		opt:  opt,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	if s.opt.send == nil {
		s.opt.send = s.sendMail
	}
	if err := cfg.Validate(); err != nil && opt.send == nil {
		log.Error("SMTP configuration unusable: alert mails will be dropped", "err", err, "smtp", cfg)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.worker()
	return s
}

// Notify enqueues m and returns at once. Messages without recipients are
// ignored; after Close, messages are dropped with a log line.
func (s *SMTP) Notify(_ context.Context, m Message) {
	if len(m.To) == 0 {
		s.log.Debug("alert mail without recipients ignored", "subject", subject(m.Subject))
		return
	}
	m.To = append([]string(nil), m.To...)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.log.Warn("alert mail dropped: notifier closed", "to", m.To, "subject", subject(m.Subject))
		return
	}
	for len(s.queue) >= s.opt.queueSize {
		oldest := 0
		for i, it := range s.queue {
			if it.seq < s.queue[oldest].seq {
				oldest = i
			}
		}
		it := s.queue[oldest]
		s.queue = append(s.queue[:oldest], s.queue[oldest+1:]...)
		s.log.Warn("alert mail queue full: oldest mail dropped", "to", it.m.To, "subject", subject(it.m.Subject), "attempts", it.attempts, "queue_size", s.opt.queueSize)
	}
	s.seq++
	s.queue = append(s.queue, &item{m: m, seq: s.seq, queued: time.Now()})
	s.mu.Unlock()
	s.signal()
}

func (s *SMTP) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Pending returns the number of mails waiting or being sent.
func (s *SMTP) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.queue)
	if s.inflight {
		n++
	}
	return n
}

// Close stops accepting mails and waits until the queue is drained (with
// retries still going on) or ctx ends; then the mails left are dropped
// with a log line, and ctx.Err() is returned. Closing twice is harmless.
func (s *SMTP) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	<-s.done
	s.mu.Lock()
	left := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, it := range left {
		s.log.Error("alert mail dropped at shutdown", "to", it.m.To, "subject", subject(it.m.Subject), "attempts", it.attempts)
	}
	return ctx.Err()
}

func (s *SMTP) worker() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if s.ctx.Err() != nil {
			// Close gave up. A mail put back after an interrupted attempt
			// is ready at once: without this the worker would retry it
			// in a loop, and Close wait for ever.
			return
		}
		s.mu.Lock()
		if len(s.queue) == 0 {
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-s.wake:
			case <-s.ctx.Done():
				return
			}
			continue
		}
		// The ready mail enqueued first, else wait for the earliest one.
		now := time.Now()
		var pick, earliest *item
		pi := -1
		for i, it := range s.queue {
			if !it.next.After(now) && (pick == nil || it.seq < pick.seq) {
				pick, pi = it, i
			}
			if earliest == nil || it.next.Before(earliest.next) {
				earliest = it
			}
		}
		if pick == nil {
			s.mu.Unlock()
			timer.Reset(earliest.next.Sub(now))
			select {
			case <-timer.C:
			case <-s.wake:
				timer.Stop() // Go >= 1.23: no stale tick after Stop
			case <-s.ctx.Done():
				return
			}
			continue
		}
		s.queue = append(s.queue[:pi], s.queue[pi+1:]...)
		s.inflight = true
		s.mu.Unlock()

		err := s.opt.send(s.ctx, pick.m)
		pick.attempts++

		s.mu.Lock()
		s.inflight = false
		switch {
		case err == nil:
			s.log.Info("alert mail sent", "to", pick.m.To, "subject", subject(pick.m.Subject), "attempts", pick.attempts)
		case s.ctx.Err() != nil:
			// Close gave up: put it back to be reported as dropped.
			s.queue = append(s.queue, pick)
		case isPermanent(err):
			s.log.Error("alert mail dropped: permanent failure", "to", pick.m.To, "subject", subject(pick.m.Subject), "attempts", pick.attempts, "err", s.redact(err))
		case s.opt.maxAttempts > 0 && pick.attempts >= s.opt.maxAttempts:
			s.log.Error("alert mail dropped: too many failed attempts", "to", pick.m.To, "subject", subject(pick.m.Subject), "attempts", pick.attempts, "err", s.redact(err))
		case time.Since(pick.queued) >= s.opt.retryFor:
			s.log.Error("alert mail dropped: still failing after "+s.opt.retryFor.String(), "to", pick.m.To, "subject", subject(pick.m.Subject), "attempts", pick.attempts, "err", s.redact(err))
		default:
			wait := s.backoff(pick.attempts)
			pick.next = time.Now().Add(wait)
			s.queue = append(s.queue, pick)
			level := slog.LevelDebug
			if pick.attempts&(pick.attempts-1) == 0 {
				level = slog.LevelWarn // a day of 5 m retries would flood the log
			}
			s.log.Log(context.Background(), level, "alert mail delivery failed, will retry", "to", pick.m.To, "subject", subject(pick.m.Subject), "attempts", pick.attempts, "retry_in", wait, "err", s.redact(err))
		}
		s.mu.Unlock()
	}
}

// backoff is the wait after the n-th failed attempt (n >= 1).
func (s *SMTP) backoff(n int) time.Duration {
	d := s.opt.minBackoff
	for i := 1; i < n; i++ {
		d *= 2
		if d >= s.opt.maxBackoff {
			return s.opt.maxBackoff
		}
	}
	return min(d, s.opt.maxBackoff)
}

// redact returns err's text without the password (should a server or
// library ever echo it).
func (s *SMTP) redact(err error) string {
	msg := err.Error()
	if s.cfg.Password != "" {
		msg = strings.ReplaceAll(msg, s.cfg.Password, "******")
	}
	return msg
}

// permanentError marks an error that retrying cannot cure.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func isPermanent(err error) bool {
	var pe permanentError
	if errors.As(err, &pe) {
		return true
	}
	var se *mail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	return false
}

// clientOptions returns the go-mail options of cfg.
func (c Config) clientOptions() []mail.Option {
	opts := []mail.Option{mail.WithTimeout(c.timeout())}
	switch c.tlsMode() {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	opts = append(opts, mail.WithPort(c.port()))
	var tc *tls.Config
	if c.TLSConfig != nil {
		tc = c.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = c.Host
	}
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	opts = append(opts, mail.WithTLSConfig(tc))
	if c.dial != nil {
		opts = append(opts, mail.WithDialContextFunc(c.dial))
	}
	if c.Username != "" {
		auth := mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover)
		if c.tlsMode() == TLSNone && IsLoopback(c.Host) {
			// Autodiscovery never picks PLAIN or LOGIN without TLS; to a
			// local relay they are safe. Challenge-response first all
			// the same; none of these offered: autodiscovery.
			auth = mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1,
				mail.SMTPAuthCramMD5, mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc)
		}
		opts = append(opts, auth, mail.WithUsername(c.Username), mail.WithPassword(c.Password))
	}
	return opts
}

// sendMail delivers m with go-mail, in one connection.
func (s *SMTP) sendMail(ctx context.Context, m Message) error {
	if err := s.cfg.Validate(); err != nil {
		return permanentError{err}
	}
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.from()); err != nil {
		return permanentError{fmt.Errorf("bad From address: %w", err)}
	}
	to := make([]string, len(m.To))
	for i, a := range m.To {
		to[i] = strings.TrimSpace(stripCRLF(a))
	}
	if err := msg.To(to...); err != nil {
		return permanentError{fmt.Errorf("bad recipient: %w", err)}
	}
	msg.Subject(subject(m.Subject))
	msg.SetDate()
	msg.SetMessageID()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(mail.HeaderXMailer, "xrdtest")
	msg.SetBodyString(mail.TypeTextPlain, m.Body)

	c, err := mail.NewClient(s.cfg.Host, s.cfg.clientOptions()...)
	if err != nil {
		return permanentError{fmt.Errorf("SMTP client: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	err = c.DialAndSendWithContext(ctx, msg)
	if errors.Is(err, mail.ErrNoSupportedAuthDiscovered) && s.cfg.tlsMode() == TLSNone {
		// go-mail's message does not say why; retrying cannot help.
		return permanentError{fmt.Errorf("the SMTP server offers no AUTH mechanism usable without TLS "+
			"(PLAIN and LOGIN would send the password in clear to %s): set [smtp] tls = starttls or tls: %w", s.cfg.Host, err)}
	}
	return err
}
