// Package daemonclient is the daemons' side of the connection to the
// master, shared by the slave and the hypervisor: enroll once with the
// token and the CA pin, then keep one Connect stream open over mutual TLS,
// reconnecting with backoff, with heartbeats both ways.
package daemonclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

// Config configures a daemon's connection.
type Config struct {
	Master   string // host:port of the master's daemon port
	Role     pki.Role
	Name     string
	StateDir string // the enrolled key and certificates
	Token    string // enrollment token, needed until enrolled
	Pin      pki.Pin
	HavePin  bool
	Version  string
	Log      *slog.Logger
	// MinBackoff and MaxBackoff bound the reconnect delay.
	MinBackoff, MaxBackoff time.Duration
}

// Handler is the daemon behind the connection.
type Handler interface {
	// Hello completes the Hello of each connection (held stages, capacity...).
	Hello(h *protocol.Hello)
	// Resends returns what the master has not acknowledged, sent first
	// after each (re)connect.
	Resends() []*protocol.DaemonMessage
	// Handle processes one message from the master; ctx ends with Run,
	// ConnectionDone(ctx) with the connection.
	Handle(ctx context.Context, m *protocol.MasterMessage)
}

type connKey struct{}

// ConnectionDone is closed when the connection that delivered a message
// ends, for a Handler given ctx: what lives on one connection only (a
// shell) ends with it, while the stages carry on over the next one. Nil
// for a ctx that is not a Handler's.
func ConnectionDone(ctx context.Context) <-chan struct{} {
	if c, ok := ctx.Value(connKey{}).(context.Context); ok {
		return c.Done()
	}
	return nil
}

// ErrRefused wraps a refusal by the master that retrying cannot cure (a
// wrong token or pin, a certificate for another name).
var ErrRefused = errors.New("refused by the master")

// Client is a daemon's connection to the master.
type Client struct {
	cfg Config
	log *slog.Logger
	// out is drained by whichever stream is connected, so a message sent
	// while the master is away waits instead of being lost.
	out chan *protocol.DaemonMessage
}

// New returns a client; Run connects it.
func New(cfg Config) *Client {
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	return &Client{cfg: cfg, log: cfg.Log, out: make(chan *protocol.DaemonMessage, 16)}
}

// Identity is the daemon's identity.
func (c *Client) Identity() pki.Identity { return pki.Identity{Role: c.cfg.Role, Name: c.cfg.Name} }

// Send queues a message for the master; it waits while disconnected.
func (c *Client) Send(ctx context.Context, m *protocol.DaemonMessage) {
	select {
	case c.out <- m:
	case <-ctx.Done():
	}
}

// Run enrolls if needed, then serves h until ctx ends or the master
// refuses the daemon for good.
func (c *Client) Run(ctx context.Context, h Handler) error {
	if err := c.Identity().Validate(); err != nil {
		return fmt.Errorf("%w: invalid %s name %q: %v", ErrRefused, c.cfg.Role, c.cfg.Name, err)
	}
	creds, err := c.credentials(ctx)
	if err != nil {
		return err
	}
	c.log.Info(string(c.cfg.Role)+" starting", "master", c.cfg.Master, "ca", creds.CAFingerprint().String())
	backoff := c.cfg.MinBackoff
	for {
		start := time.Now()
		err := c.session(ctx, creds, h)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRefused) {
			return err
		}
		if time.Since(start) > 10*time.Second {
			backoff = c.cfg.MinBackoff // it was a working connection
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.log.Warn("connection to the master lost; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

// credentials loads the daemon's certificate, enrolling first if it has
// none. Enrollment retries while the master is unreachable.
func (c *Client) credentials(ctx context.Context) (*pki.Credentials, error) {
	creds, err := pki.LoadCredentials(c.cfg.StateDir)
	if err == nil {
		if creds.Identity != c.Identity() {
			return nil, fmt.Errorf("the certificate in %s is for %s, not %s: remove the folder to enroll again", c.cfg.StateDir, creds.Identity, c.Identity())
		}
		return creds, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot load credentials: %w", err)
	}
	if c.cfg.Token == "" || !c.cfg.HavePin {
		return nil, fmt.Errorf("%w: this %s is not enrolled yet: give the master's connection token and its CA fingerprint (XRDTEST_TOKEN and --ca-fingerprint)", ErrRefused, c.cfg.Role)
	}
	backoff := c.cfg.MinBackoff
	for {
		creds, err := c.enroll(ctx)
		if err == nil || errors.Is(err, ErrRefused) || ctx.Err() != nil {
			return creds, err
		}
		c.log.Warn("cannot enroll yet; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

func (c *Client) enroll(ctx context.Context) (*pki.Credentials, error) {
	id := c.Identity()
	key, csr, err := pki.NewRequest(id)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(c.cfg.Master, grpc.WithTransportCredentials(credentials.NewTLS(c.cfg.Pin.EnrollTLS())))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := protocol.NewMasterClient(conn).Enroll(cctx, &protocol.EnrollRequest{Role: string(id.Role), Name: id.Name, Token: c.cfg.Token, CsrPem: csr})
	if err != nil {
		return nil, classify("enrollment", err)
	}
	creds, err := pki.SaveCredentials(c.cfg.StateDir, key, resp.GetCertificatePem(), resp.GetCaCertificatePem())
	if err != nil {
		return nil, fmt.Errorf("cannot store the certificate: %w", err)
	}
	c.log.Info("enrolled with the master", "ca", creds.CAFingerprint().String())
	return creds, nil
}

// classify marks the errors that retrying cannot cure as ErrRefused. A
// pin mismatch shows up as a TLS verification error in the transport.
func classify(what string, err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument:
		return fmt.Errorf("%w: %s: %s", ErrRefused, what, st.Message())
	case codes.Unavailable:
		msg := st.Message()
		for _, s := range []string{"does not match the pinned", "not a master", "certificate"} {
			if strings.Contains(msg, s) {
				return fmt.Errorf("%w: %s: %s", ErrRefused, what, msg)
			}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// session is one connection to the master: Hello, Welcome, the resends,
// then messages both ways until the stream breaks.
func (c *Client) session(ctx context.Context, creds *pki.Credentials, h Handler) error {
	conn, err := grpc.NewClient(c.cfg.Master, append(protocol.DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(creds.ClientTLS())))...)
	if err != nil {
		return err
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := protocol.NewMasterClient(conn).Connect(sctx)
	if err != nil {
		return classify("connect", err)
	}
	hostname, _ := os.Hostname()
	hello := &protocol.Hello{Role: string(c.cfg.Role), Name: c.cfg.Name, Version: c.cfg.Version, Hostname: hostname}
	h.Hello(hello)
	// A refused stream makes Send return io.EOF; Recv gives the reason.
	_ = stream.Send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_Hello{Hello: hello}})
	first, err := stream.Recv()
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.AlreadyExists {
			return fmt.Errorf("connect: %s", st.Message()) // a stale connection of ours: retry
		}
		return classify("connect", err)
	}
	w := first.GetWelcome()
	if w == nil {
		return errors.New("the master did not answer with Welcome")
	}
	interval := time.Duration(w.GetHeartbeatIntervalMs()) * time.Millisecond
	if interval <= 0 {
		interval = 2 * time.Second
	}
	c.log.Info("connected to the master", "master_version", w.GetMasterVersion())
	// What the master has not acknowledged goes first, in order; newer
	// messages queued meanwhile follow (duplicates are ignored by id/seq).
	for _, m := range h.Resends() {
		if err := stream.Send(m); err != nil {
			return err
		}
	}

	errc := make(chan error, 2)
	hctx := context.WithValue(ctx, connKey{}, sctx)
	var mu sync.Mutex
	seen := time.Now()
	go func() {
		errc <- protocol.Receive(stream.Recv, func(m *protocol.MasterMessage) {
			mu.Lock()
			seen = time.Now()
			mu.Unlock()
			h.Handle(hctx, m)
		})
	}()
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case m := <-c.out:
				if err := stream.Send(m); err != nil {
					// The message may be lost with the stream; what matters
					// is resent after the reconnect (Handler.Resends).
					errc <- err
					return
				}
			case <-tick.C:
				mu.Lock()
				silent := time.Since(seen)
				mu.Unlock()
				if silent > 5*interval {
					errc <- fmt.Errorf("the master has been silent for %s", silent.Round(time.Millisecond))
					return
				}
				hb := &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_Heartbeat{Heartbeat: &protocol.Heartbeat{UnixNano: time.Now().UnixNano()}}}
				if err := stream.Send(hb); err != nil {
					errc <- err
					return
				}
			case <-sctx.Done():
				errc <- sctx.Err()
				return
			}
		}
	}()
	return <-errc
}
