package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

// stageHandler is what a simulated slave does with the master's commands.
// Both methods run on the slave's receiving goroutine: they must not block
// for long, or the slave stops reading its stream.
type stageHandler interface {
	runStage(s *simSlave, rs *protocol.RunStage)
	ack(s *simSlave, a *protocol.Ack)
}

// simSlave is one simulated slave: its own key and certificate, its own
// gRPC connection and Connect stream, as a real slave on its own machine.
// It speaks the protocol of internal/slave without running anything.
type simSlave struct {
	name    string
	conn    *grpc.ClientConn
	stream  protocol.Master_ConnectClient
	handler stageHandler
	cancel  context.CancelFunc

	// sendMu serialises writes: a gRPC stream must not be written by two
	// goroutines at once (the receiver answers stages, the heartbeat
	// goroutine beats).
	sendMu sync.Mutex

	wg      sync.WaitGroup
	closing atomic.Bool
	err     atomic.Pointer[error] // why the stream broke, unless closing
}

// enroll gets a certificate for name with the connection token, trusting
// the master by its CA fingerprint, and stores it in dir, as a real slave
// does on its first start.
func enroll(ctx context.Context, addr string, fp pki.Fingerprint, name, dir string) (*pki.Credentials, error) {
	id := pki.Identity{Role: pki.RoleSlave, Name: name}
	key, csr, err := pki.NewRequest(id)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.PinFingerprint(fp).EnrollTLS())))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	resp, err := protocol.NewMasterClient(conn).Enroll(cctx, &protocol.EnrollRequest{
		Role: string(id.Role), Name: name, Token: connToken, CsrPem: csr})
	if err != nil {
		return nil, fmt.Errorf("enroll %s: %w", name, err)
	}
	return pki.SaveCredentials(dir, key, resp.GetCertificatePem(), resp.GetCaCertificatePem())
}

// connectSlave opens the slave's Connect stream with its certificate: Hello,
// Welcome, then it answers commands with h and sends a heartbeat every
// interval the master asked for, until close.
func connectSlave(ctx context.Context, addr string, creds *pki.Credentials, name string, h stageHandler) (*simSlave, error) {
	conn, err := grpc.NewClient(addr, append(protocol.DialOptions(), grpc.WithTransportCredentials(credentials.NewTLS(creds.ClientTLS())))...)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &simSlave{name: name, conn: conn, handler: h, cancel: cancel}
	fail := func(err error) (*simSlave, error) {
		cancel()
		conn.Close()
		return nil, fmt.Errorf("connect %s: %w", name, err)
	}
	if s.stream, err = protocol.NewMasterClient(conn).Connect(sctx); err != nil {
		return fail(err)
	}
	hello := &protocol.Hello{Role: string(pki.RoleSlave), Name: name, Version: "bench", Hostname: name}
	// A refused stream makes Send return io.EOF; Recv says why.
	_ = s.stream.Send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_Hello{Hello: hello}})
	first, err := s.stream.Recv()
	if err != nil {
		return fail(err)
	}
	w := first.GetWelcome()
	if w == nil {
		return fail(errors.New("the master did not answer Hello with Welcome"))
	}
	interval := time.Duration(w.GetHeartbeatIntervalMs()) * time.Millisecond
	if interval <= 0 {
		interval = 2 * time.Second
	}
	s.wg.Add(2)
	go s.receive()
	go s.heartbeat(sctx, interval)
	return s, nil
}

func (s *simSlave) send(m *protocol.DaemonMessage) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(m)
}

func (s *simSlave) broken(err error) {
	if !s.closing.Load() && err != nil {
		s.err.CompareAndSwap(nil, &err)
	}
}

func (s *simSlave) receive() {
	defer s.wg.Done()
	for {
		m, err := s.stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.broken(err)
			} else {
				s.broken(errors.New("the master closed the stream"))
			}
			return
		}
		switch m := m.Msg.(type) {
		case *protocol.MasterMessage_RunStage:
			s.handler.runStage(s, m.RunStage)
		case *protocol.MasterMessage_Ack:
			s.handler.ack(s, m.Ack)
		case *protocol.MasterMessage_CollectLogs:
			// The suites collect no logs; answer anyway, as a slave
			// without the files would.
			s.send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_LogChunk{LogChunk: &protocol.LogChunk{Id: m.CollectLogs.GetId(), Done: true}}})
		case *protocol.MasterMessage_Heartbeat, *protocol.MasterMessage_CancelStage:
		}
	}
}

func (s *simSlave) heartbeat(ctx context.Context, interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			hb := &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_Heartbeat{Heartbeat: &protocol.Heartbeat{UnixNano: time.Now().UnixNano()}}}
			if err := s.send(hb); err != nil {
				s.broken(err)
				return
			}
		}
	}
}

// close ends the stream and the connection and waits for the goroutines.
func (s *simSlave) close() {
	s.closing.Store(true)
	s.cancel()
	s.conn.Close()
	s.wg.Wait()
}

// failure returns why the stream broke while it should not have, or nil.
func (s *simSlave) failure() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// startSlaves enrolls and connects the named slaves, at most parallel at a
// time (enrollment and the TLS handshakes cost CPU on both sides).
func startSlaves(ctx context.Context, m *masterProc, names []string, dir string, parallel int, h func(name string) stageHandler) ([]*simSlave, error) {
	slaves := make([]*simSlave, len(names))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			creds, err := enroll(ctx, m.daemonAddr, m.fp, name, filepath.Join(dir, name))
			if err == nil {
				slaves[i], err = connectSlave(ctx, m.daemonAddr, creds, name, h(name))
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		stopSlaves(slaves)
		if len(errs) > 3 {
			errs = append(errs[:3], fmt.Errorf("and %d more", len(errs)-3))
		}
		return nil, fmt.Errorf("%d of %d slaves could not connect: %w", len(errs), len(names), errors.Join(errs...))
	}
	return slaves, nil
}

func stopSlaves(slaves []*simSlave) {
	var wg sync.WaitGroup
	for _, s := range slaves {
		if s != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.close() }()
		}
	}
	wg.Wait()
}

// slaveFailures lists the slaves whose stream broke.
func slaveFailures(slaves []*simSlave) error {
	var errs []error
	for _, s := range slaves {
		if err := s.failure(); err != nil {
			errs = append(errs, fmt.Errorf("slave %s: %w", s.name, err))
		}
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("and %d more", len(errs)-3))
	}
	return errors.Join(errs...)
}

// instant answers every stage at once with its end (exit 0, no output),
// what the slave reports for a script that prints nothing and ends within
// its startedDelay: no StageStarted. It gives no duration (it ran
// nothing), so the master dates the start at its command. What the master
// then measures is its own barrier overhead.
type instant struct{}

func (instant) runStage(s *simSlave, rs *protocol.RunStage) {
	id := rs.GetId()
	if err := s.send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageDone{StageDone: &protocol.StageDone{Id: id, ExitCode: 0, Chunks: 0}}}); err != nil {
		s.broken(err)
	}
}

// ack: nothing is held, so acknowledgements free nothing.
func (instant) ack(*simSlave, *protocol.Ack) {}

// tempDir makes a directory under base (the system's default when empty).
func tempDir(base, pattern string) (string, error) {
	if base != "" {
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", err
		}
	}
	return os.MkdirTemp(base, pattern)
}
