package master_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

// limitsMaster serves a master with pages and short web limits.
func limitsMaster(t *testing.T, limits master.WebLimits) *master.Master {
	t.Helper()
	return mastertest.Start(t, master.Options{Token: token, Log: logger(), ReloadDebounce: -1,
		Pages: &master.Pages{Password: "run-pass-0123456789", Public: true}, WebLimits: limits})
}

// closedWithin reports whether the server closes conn within d (the
// client only reads).
func closedWithin(t *testing.T, conn net.Conn, r io.Reader, d time.Duration) bool {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return true // EOF or reset: closed by the server
}

var shortLimits = master.WebLimits{ReadHeader: 300 * time.Millisecond, Read: 500 * time.Millisecond, Write: 500 * time.Millisecond,
	Idle: 300 * time.Millisecond, StreamsPerClient: 2}

// TestIdleAndSlowConnectionsCut: idle keep-alive connections and requests
// whose body trickles in are closed by the master, not held forever.
func TestIdleAndSlowConnectionsCut(t *testing.T) {
	m := limitsMaster(t, shortLimits)
	addr := m.WebAddr().String()
	for i := range 5 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		if i%2 == 0 {
			// Idle keep-alive: one request, then nothing.
			io.WriteString(conn, "GET /api/v1/status HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if !closedWithin(t, conn, br, 5*time.Second) {
				t.Errorf("an idle keep-alive connection is still open after 5 s")
			}
		} else {
			// A body announced and never sent.
			io.WriteString(conn, "POST /login HTTP/1.1\r\nHost: "+addr+"\r\nOrigin: http://"+addr+
				"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\np")
			if !closedWithin(t, conn, br, 5*time.Second) {
				t.Errorf("a POST /login whose body never comes is still open after 5 s")
			}
		}
	}
}

// sseStream opens the dashboard's event stream; status is its answer.
func sseStream(t *testing.T, m *master.Master) (*http.Response, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.WebAddr().String()+"/events", nil)
	// One connection per stream, as browsers' tabs.
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return resp, func() { resp.Body.Close(); cancel() }
}

// TestStreamsOutliveTimeoutsAndAreBounded: a live stream keeps working
// past the read and write timeouts; a client cannot open more than
// StreamsPerClient of them (429), and a closed one frees its place.
func TestStreamsOutliveTimeoutsAndAreBounded(t *testing.T) {
	m := limitsMaster(t, shortLimits)
	first, closeFirst := sseStream(t, m)
	defer closeFirst()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("stream: %s", first.Status)
	}
	time.Sleep(1500 * time.Millisecond) // past Read and Write
	m.Changes.Publish(1)
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(first.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.HasPrefix(line, "event: change") {
			t.Errorf("stream after the timeouts: %q, want a change event", line)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("no event on the stream after the timeouts")
	}

	second, closeSecond := sseStream(t, m)
	if second.StatusCode != http.StatusOK {
		t.Fatalf("second stream: %s", second.Status)
	}
	third, closeThird := sseStream(t, m)
	closeThird()
	if third.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a third stream of the client: %s, want 429", third.Status)
	}
	closeSecond()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		again, closeAgain := sseStream(t, m)
		closeAgain()
		if again.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream did not free its place: %s", again.Status)
		}
	}
}

// daemonLimitsMaster serves a master with short daemon port limits.
func daemonLimitsMaster(t *testing.T) *master.Master {
	t.Helper()
	return mastertest.Start(t, master.Options{Token: token, Log: logger(), Heartbeat: 200 * time.Millisecond, HeartbeatTimeout: 2 * time.Second,
		DaemonLimits: master.DaemonLimits{Handshake: 300 * time.Millisecond, Hello: 300 * time.Millisecond, Idle: 300 * time.Millisecond}})
}

// TestDaemonPortConnectionsCut: on the daemon port, a TLS connection that
// never speaks HTTP/2, a connection that makes no call and a stream that
// never says Hello are all closed by the master.
func TestDaemonPortConnectionsCut(t *testing.T) {
	m := daemonLimitsMaster(t)
	addr := m.DaemonAddr().String()

	// TLS, then silence.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !closedWithin(t, conn, conn, 5*time.Second) {
		t.Errorf("a TLS connection without HTTP/2 preface is still open after 5 s")
	}

	// A gRPC connection without a call.
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.PinFingerprint(m.CA.Fingerprint()).EnrollTLS())))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatalf("the connection never got ready: %s", s)
		}
	}
	if !cc.WaitForStateChange(ctx, connectivity.Ready) {
		t.Errorf("a connection without a call is still open after 5 s")
	}

	// An enrolled daemon's stream without Hello.
	cfg := agentConfig(t, m, "quiet.xrd.test")
	stop, errc := mastertest.RunSlave(cfg)
	waitConnected(t, m, "quiet.xrd.test")
	stop()
	<-errc
	creds, err := pki.LoadCredentials(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(creds.ClientTLS())))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	stream, err := protocol.NewMasterClient(dc).Connect(sctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "no Hello within") {
		t.Errorf("a stream without Hello: %v, want DeadlineExceeded from the master", err)
	}
}
