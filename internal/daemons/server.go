package daemons

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/throttle"
)

// certValidity is how long an enrolled daemon's certificate lasts.
const certValidity = 5 * 365 * 24 * time.Hour

// Server implements the Master gRPC service: enrollment and the daemons'
// Connect streams.
type Server struct {
	protocol.UnimplementedMasterServer
	CA    *pki.CA
	Token func() string // the connection token; "" disables enrollment with it
	// Tokens are the one-time tokens of the machines the master started.
	Tokens *OneTimeTokens
	// Guesses counts failed enrollments per client address, so the
	// connection token cannot be guessed at network speed (nil: not
	// counted).
	Guesses  *throttle.Limiter
	Registry *Registry
	Log      *slog.Logger
	Version  string
	// Heartbeat is the interval of the master's heartbeats; a daemon
	// silent for HeartbeatTimeout is disconnected.
	Heartbeat        time.Duration
	HeartbeatTimeout time.Duration
	// HelloTimeout bounds the wait for a stream's first message, Hello
	// (0: DefaultHelloTimeout).
	HelloTimeout time.Duration
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown address"
}

// peerIdentity is the identity in the verified client certificate.
func peerIdentity(ctx context.Context) (pki.Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return pki.Identity{}, errors.New("no peer information")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return pki.Identity{}, errors.New("not a TLS connection")
	}
	return pki.PeerIdentity(info.State)
}

// Enroll issues a certificate for a daemon that knows the connection token.
func (s *Server) Enroll(ctx context.Context, req *protocol.EnrollRequest) (*protocol.EnrollResponse, error) {
	id := pki.Identity{Role: pki.Role(req.GetRole()), Name: req.GetName()}
	addr := peerAddr(ctx)
	log := s.Log.With("role", req.GetRole(), "name", req.GetName(), "addr", addr)
	if id.Role != pki.RoleSlave && id.Role != pki.RoleHypervisor {
		log.Warn("enrollment refused: unknown role")
		return nil, status.Errorf(codes.InvalidArgument, "cannot enroll a daemon of role %q: want slave or hypervisor", req.GetRole())
	}
	if err := id.Validate(); err != nil {
		log.Warn("enrollment refused: invalid name", "err", err)
		return nil, status.Errorf(codes.InvalidArgument, "invalid name: %v", err)
	}
	host := throttle.Host(addr)
	if s.Guesses != nil {
		if wait := s.Guesses.Refused(host, time.Now()); wait > 0 {
			// Debug: the lockout was logged when it began; a flood of
			// guesses must not flood the log.
			log.Debug("enrollment refused: too many failed enrollments from the address")
			return nil, status.Error(codes.ResourceExhausted, (&throttle.RefusedError{What: "enrollments", Wait: wait}).Error())
		}
	}
	token := s.Token()
	switch {
	case s.Tokens.Consume(id.Name, req.GetToken()):
		log.Info("one-time enrollment token accepted")
	case token == "":
		log.Warn("enrollment refused: no connection token is configured on the master")
		return nil, status.Error(codes.PermissionDenied, "enrollment is disabled: the master has no connection token ([server] connection_passwd)")
	case !pki.TokenEqual(req.GetToken(), token):
		if s.Guesses != nil {
			if wait := s.Guesses.Failed(host, time.Now()); wait > 0 {
				log.Warn("enrollment refused: wrong connection token, address refused for a while", "refused_for", wait)
				return nil, status.Error(codes.ResourceExhausted, (&throttle.RefusedError{What: "enrollments", Wait: wait}).Error())
			}
		}
		log.Warn("enrollment refused: wrong connection token")
		return nil, status.Error(codes.PermissionDenied, "wrong connection token")
	}
	if s.Guesses != nil {
		s.Guesses.Succeeded(host)
	}
	cert, err := s.CA.Issue(req.GetCsrPem(), id, certValidity)
	if err != nil {
		log.Warn("enrollment refused: bad certificate request", "err", err)
		return nil, status.Errorf(codes.InvalidArgument, "cannot issue a certificate: %v", err)
	}
	log.Info("daemon enrolled")
	return &protocol.EnrollResponse{CertificatePem: cert, CaCertificatePem: s.CA.CertPEM()}, nil
}

// Connect serves one daemon's stream until it ends.
func (s *Server) Connect(stream protocol.Master_ConnectServer) error {
	ctx := stream.Context()
	addr := peerAddr(ctx)
	id, err := peerIdentity(ctx)
	if err != nil {
		s.Log.Warn("connection refused: no valid client certificate", "addr", addr, "err", err)
		return status.Error(codes.Unauthenticated, "a client certificate issued by this master is required: enroll first with the connection token")
	}
	first, err := s.recvHello(stream)
	if err != nil {
		if status.Code(err) == codes.DeadlineExceeded {
			s.Log.Warn("connection closed: no Hello in time", "addr", addr, "timeout", s.helloTimeout())
		}
		return err
	}
	hello := first.GetHello()
	if hello == nil {
		return status.Error(codes.InvalidArgument, "the first message must be Hello")
	}
	log := s.Log.With("role", string(id.Role), "name", id.Name, "addr", addr)
	if hello.GetRole() != string(id.Role) || hello.GetName() != id.Name {
		log.Warn("connection refused: certificate and claimed identity differ", "claimed_role", hello.GetRole(), "claimed_name", hello.GetName())
		return status.Errorf(codes.PermissionDenied, "the certificate is for %s %s, not %s %s", id.Role, id.Name, hello.GetRole(), hello.GetName())
	}
	c := newDaemonConn(s.Registry, id, addr, hello, log)
	if err := s.Registry.add(c); err != nil {
		log.Warn("connection refused", "err", err)
		return status.Error(codes.AlreadyExists, err.Error())
	}
	log.Info("daemon connected", "version", hello.GetVersion())
	defer func() {
		s.Registry.remove(c)
		log.Info("daemon disconnected", "reason", c.closeReason())
	}()

	welcome := &protocol.MasterMessage{Msg: &protocol.MasterMessage_Welcome{Welcome: &protocol.Welcome{
		MasterVersion: s.Version, HeartbeatIntervalMs: s.Heartbeat.Milliseconds()}}}
	if err := stream.Send(welcome); err != nil {
		c.close(err.Error())
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- s.sendLoop(stream, c) }()
	switch id.Role {
	case pki.RoleSlave:
		s.Registry.resume(c, hello.GetHeldStages())
	case pki.RoleHypervisor:
		if h := s.Registry.hv; h != nil {
			h.adopt(c, hello.GetHypervisor().GetClusters())
		}
	}
	go func() { errc <- protocol.Receive(stream.Recv, c.handle) }()
	err = <-errc
	reason := "stream ended"
	switch {
	case errors.Is(err, io.EOF):
		reason = "closed by the daemon"
	case err != nil:
		reason = err.Error()
	}
	c.close(reason)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// DefaultHelloTimeout is how long a daemon has to send its Hello.
const DefaultHelloTimeout = 10 * time.Second

func (s *Server) helloTimeout() time.Duration {
	if s.HelloTimeout > 0 {
		return s.HelloTimeout
	}
	return DefaultHelloTimeout
}

// recvHello receives the first message of a stream, within the Hello
// timeout: a stream that says nothing does not hold the port. Returning
// ends the stream, which ends the pending Recv.
func (s *Server) recvHello(stream protocol.Master_ConnectServer) (*protocol.DaemonMessage, error) {
	type result struct {
		m   *protocol.DaemonMessage
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := stream.Recv()
		ch <- result{m, err}
	}()
	timer := time.NewTimer(s.helloTimeout())
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.m, r.err
	case <-timer.C:
		return nil, status.Errorf(codes.DeadlineExceeded, "no Hello within %s", s.helloTimeout())
	}
}

// sendLoop writes queued messages and heartbeats, and ends the stream
// when the daemon has been silent too long.
func (s *Server) sendLoop(stream protocol.Master_ConnectServer, c *daemonConn) error {
	tick := time.NewTicker(s.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case m := <-c.out:
			if err := sendAll(stream, c.takeAcks(), m); err != nil {
				return err
			}
		case <-tick.C:
			if silent := c.silentFor(); silent > s.HeartbeatTimeout {
				return fmt.Errorf("no message for %s (heartbeat timeout)", silent.Round(time.Millisecond))
			}
			hb := &protocol.MasterMessage{Msg: &protocol.MasterMessage_Heartbeat{Heartbeat: &protocol.Heartbeat{UnixNano: time.Now().UnixNano()}}}
			if err := sendAll(stream, c.takeAcks(), hb); err != nil {
				return err
			}
		case <-c.closed:
			return errors.New(c.closeReason())
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// sendAll sends the queued acknowledgements, then m: sent back to back,
// gRPC writes them together.
func sendAll(stream protocol.Master_ConnectServer, acks []*protocol.MasterMessage, m *protocol.MasterMessage) error {
	for _, a := range acks {
		if err := stream.Send(a); err != nil {
			return err
		}
	}
	return stream.Send(m)
}

// loggedTLS logs failed handshakes: a daemon with a wrong CA pin or a
// certificate of another CA is refused during the TLS handshake, before
// any RPC, and the master's log should say so.
type loggedTLS struct {
	credentials.TransportCredentials
	log *slog.Logger
}

func (c loggedTLS) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	nc, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.log.Warn("TLS handshake with a daemon failed", "addr", conn.RemoteAddr().String(), "err", err)
	}
	return nc, info, err
}

func (c loggedTLS) Clone() credentials.TransportCredentials {
	return loggedTLS{c.TransportCredentials.Clone(), c.log}
}

// LoggedTLS wraps creds so that a failed handshake with a daemon is
// logged.
func LoggedTLS(creds credentials.TransportCredentials, log *slog.Logger) credentials.TransportCredentials {
	return loggedTLS{creds, log}
}
