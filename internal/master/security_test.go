package master_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/slave"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

const token = "s3cret-connection-token-xyz"

type syncBuffer = testutil.SyncBuffer

// logs collects every log line of the test, master and slaves.
var logs = &syncBuffer{}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startMaster(t *testing.T) *master.Master {
	t.Helper()
	return mastertest.Start(t, master.Options{Token: token, Log: logger(), Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Second})
}

func agentConfig(t *testing.T, m *master.Master, name string) slave.Config {
	return mastertest.SlaveConfig(m, t.TempDir(), name, token, logger())
}

// runAgents runs a slave of each name; stop ends them and waits for them.
func runAgents(t *testing.T, m *master.Master, names ...string) (stop func()) {
	t.Helper()
	var stops []func()
	for _, name := range names {
		stop, errc := mastertest.RunSlave(agentConfig(t, m, name))
		stops = append(stops, func() { stop(); <-errc })
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// waitConnected waits until the slaves of these names are connected.
func waitConnected(t *testing.T, m *master.Master, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if missing := m.Registry.WaitForSlaves(ctx, names, nil); len(missing) > 0 {
		t.Fatalf("%v did not connect", missing)
	}
}

func TestEnrollAndConnect(t *testing.T) {
	m := startMaster(t)
	cfg := agentConfig(t, m, "good.xrd.test")
	stop, errc := mastertest.RunSlave(cfg)
	waitConnected(t, m, "good.xrd.test")
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("agent: %v", err)
	}
	// The second start uses the stored certificate: no token needed.
	cfg.Token, cfg.HavePin = "", false
	stop, errc = mastertest.RunSlave(cfg)
	waitConnected(t, m, "good.xrd.test")
	stop()
	<-errc
}

func TestRefusals(t *testing.T) {
	m := startMaster(t)
	other, _, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cfg       func(c *slave.Config)
		slaveSays string
		masterLog string
	}{
		{"wrong token", func(c *slave.Config) { c.Token = "not-the-token" }, "wrong connection token", "enrollment refused: wrong connection token"},
		{"wrong pin", func(c *slave.Config) { c.Pin = pki.PinFingerprint(other.Fingerprint()) }, "does not match the pinned", "TLS handshake with a daemon failed"},
		{"not enrolled and no token", func(c *slave.Config) { c.Token = "" }, "not enrolled yet", ""},
		{"invalid name", func(c *slave.Config) { c.Name = "bad/name" }, "invalid slave name", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := agentConfig(t, m, "refused.xrd.test")
			tt.cfg(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			err := slave.New(cfg).Run(ctx)
			if err == nil || !errors.Is(err, slave.ErrRefused) && tt.slaveSays != "" {
				t.Fatalf("agent error %v, want a refusal", err)
			}
			if !strings.Contains(err.Error(), tt.slaveSays) {
				t.Errorf("slave says %q, want %q", err, tt.slaveSays)
			}
			if tt.masterLog != "" && !eventually(func() bool { return strings.Contains(logs.String(), tt.masterLog) }) {
				t.Errorf("master log lacks %q", tt.masterLog)
			}
		})
	}
}

// eventually polls cond for a few seconds: the master logs some refusals
// after the client has already given up.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// rawConnect opens a Connect stream with the given TLS config and sends
// Hello; it returns the master's first answer or error.
func rawConnect(t *testing.T, m *master.Master, tlsConf credentials.TransportCredentials, role, name string) error {
	t.Helper()
	conn, err := grpc.NewClient(m.DaemonAddr().String(), grpc.WithTransportCredentials(tlsConf))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := protocol.NewMasterClient(conn).Connect(ctx)
	if err != nil {
		return err
	}
	// A Send on a stream the server ended returns io.EOF; Recv has the
	// server's status.
	_ = stream.Send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_Hello{Hello: &protocol.Hello{Role: role, Name: name}}})
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetWelcome() == nil {
		t.Fatalf("first message %v", first)
	}
	return nil
}

func TestConnectRefusals(t *testing.T) {
	m := startMaster(t)
	cfg := agentConfig(t, m, "a.xrd.test")
	stop, errc := mastertest.RunSlave(cfg)
	waitConnected(t, m, "a.xrd.test")
	defer func() { stop(); <-errc }()
	creds, err := pki.LoadCredentials(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}

	// No client certificate.
	err = rawConnect(t, m, credentials.NewTLS(pki.PinFingerprint(m.CA.Fingerprint()).EnrollTLS()), "slave", "a.xrd.test")
	if err == nil || !strings.Contains(err.Error(), "a client certificate issued by this master is required") {
		t.Errorf("no client certificate: %v", err)
	}
	// A's certificate claiming to be B.
	err = rawConnect(t, m, credentials.NewTLS(creds.ClientTLS()), "slave", "b.xrd.test")
	if err == nil || !strings.Contains(err.Error(), "the certificate is for slave a.xrd.test, not slave b.xrd.test") {
		t.Errorf("identity theft: %v", err)
	}
	// A second slave with a connected name.
	err = rawConnect(t, m, credentials.NewTLS(creds.ClientTLS()), "slave", "a.xrd.test")
	if err == nil || !strings.Contains(err.Error(), "a slave named a.xrd.test is already connected") {
		t.Errorf("duplicate: %v", err)
	}
	for _, want := range []string{"connection refused: no valid client certificate", "certificate and claimed identity differ", "is already connected"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("master log lacks %q", want)
		}
	}
}

// TestSecretsNotLogged runs after the others in this file (go test runs
// tests in source order) and checks every log line they produced.
func TestSecretsNotLogged(t *testing.T) {
	all := logs.String()
	if len(all) < 1000 {
		t.Fatalf("too few logs to check (%d bytes): run the whole package", len(all))
	}
	for _, secret := range []string{token, "not-the-token"} {
		if strings.Contains(all, secret) {
			t.Errorf("a secret appears in the logs")
		}
	}
}

func TestOneMasterPerStateDir(t *testing.T) {
	dir := t.TempDir()
	opts := master.Options{StateDir: dir, DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0", Log: logger()}
	m, err := master.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := master.Open(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "another master is using the state folder") {
		t.Errorf("second master: %v", err)
	}
	m.Close()
	m, err = master.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	m.Close()
}

func TestOneTimeTokens(t *testing.T) {
	m := startMaster(t)
	tok := m.Manager.Tokens.Issue("vm1.xrd.test")
	cfg := agentConfig(t, m, "vm1.xrd.test")
	cfg.Token = tok
	stop, errc := mastertest.RunSlave(cfg)
	waitConnected(t, m, "vm1.xrd.test")
	stop()
	<-errc
	// Spent: a second enrollment with it fails, and so does another name.
	for _, name := range []string{"vm1.xrd.test", "vm2.xrd.test"} {
		cfg := agentConfig(t, m, name)
		cfg.Token = tok
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := slave.New(cfg).Run(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "wrong connection token") {
			t.Errorf("%s with a spent token: %v", name, err)
		}
	}
	tok2 := m.Manager.Tokens.Issue("vm3.xrd.test")
	cfg = agentConfig(t, m, "vm4.xrd.test")
	cfg.Token = tok2
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := slave.New(cfg).Run(ctx); err == nil || !strings.Contains(err.Error(), "wrong connection token") {
		t.Errorf("a token bound to vm3 used by vm4: %v", err)
	}
}
