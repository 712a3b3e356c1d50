package pki

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// testCA creates a CA in a fresh directory.
func testCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "master")
	ca, created, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("created = false for a new directory")
	}
	return ca, dir
}

// enroll does what a daemon and the master do during enrollment, minus
// the network, and returns the saved credentials.
func enroll(t *testing.T, ca *CA, id Identity, validity time.Duration) *Credentials {
	t.Helper()
	key, csr, err := NewRequest(id)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.Issue(csr, id, validity)
	if err != nil {
		t.Fatal(err)
	}
	c, err := SaveCredentials(filepath.Join(t.TempDir(), "daemon"), key, certPEM, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func serverTLS(t *testing.T, ca *CA) *tls.Config {
	t.Helper()
	cfg, err := ca.ServerTLS(filepath.Join(t.TempDir(), "master-certs"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// presenting returns cfg serving cert instead of its own certificate.
func presenting(cfg *tls.Config, cert *tls.Certificate) *tls.Config {
	cfg = cfg.Clone()
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
	return cfg
}

func servedCert(t *testing.T, cfg *tls.Config) *tls.Certificate {
	t.Helper()
	c, err := cfg.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type hsResult struct {
	server    tls.ConnectionState
	serverErr error
	clientErr error
}

// handshake runs a real TLS handshake over loopback TCP (buffered, so a
// side that fails while the other is not reading cannot deadlock). After
// the handshake the server sends one byte which the client reads: in TLS
// 1.3 the client finishes before the server has checked its certificate,
// so a refusal by the server reaches the client only at that read.
func handshake(t *testing.T, server, client *tls.Config) hsResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		st  tls.ConnectionState
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, server)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte{1})
		}
		ch <- res{tc.ConnectionState(), err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, client)
	cerr := tc.Handshake()
	if cerr == nil {
		var b [1]byte
		_, cerr = io.ReadFull(tc, b[:])
	}
	tc.Close()
	r := <-ch
	return hsResult{server: r.st, serverErr: r.err, clientErr: cerr}
}

func parsePEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Credentials) certChain() []*x509.Certificate { return []*x509.Certificate{c.cert} }
