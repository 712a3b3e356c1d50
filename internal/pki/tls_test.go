package pki

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnrollTLS(t *testing.T) {
	ca, caDir := testCA(t)
	other, otherDir := testCA(t)
	server := serverTLS(t, ca)
	otherServer := serverTLS(t, other)
	master := servedCert(t, server)
	otherMaster := servedCert(t, otherServer)
	filePin, err := PinFile(filepath.Join(caDir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	otherFilePin, err := PinFile(filepath.Join(otherDir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	slave := enroll(t, ca, Identity{RoleSlave, "srv1.xrd.test"}, 0)

	for _, tc := range []struct {
		name   string
		server *tls.Config
		pin    Pin
		want   []string // substrings of the client error; nil: success
	}{
		{"fingerprint pin", server, PinFingerprint(ca.Fingerprint()), nil},
		{"file pin", server, filePin, nil},
		{
			"wrong fingerprint pin", server, PinFingerprint(other.Fingerprint()),
			[]string{"master CA fingerprint " + ca.Fingerprint().String() + " does not match the pinned " + other.Fingerprint().String()},
		},
		{
			"wrong file pin", server, otherFilePin,
			[]string{"master CA fingerprint " + ca.Fingerprint().String() + " does not match the pinned " + other.Fingerprint().String()},
		},
		{
			"server from another CA", otherServer, PinFingerprint(ca.Fingerprint()),
			[]string{other.Fingerprint().String(), ca.Fingerprint().String()},
		},
		{"zero pin", server, Pin{}, []string{"does not match the pinned sha256:0000"}},
		{
			"slave certificate from the right CA",
			presenting(server, &tls.Certificate{Certificate: [][]byte{slave.cert.Raw, ca.Certificate().Raw}, PrivateKey: slave.key}),
			PinFingerprint(ca.Fingerprint()),
			[]string{"slave/srv1.xrd.test, not a master"},
		},
		{
			// Right CA in the chain, but the leaf is not issued by it.
			"other CA's master with the pinned CA appended",
			presenting(server, &tls.Certificate{Certificate: [][]byte{otherMaster.Leaf.Raw, ca.Certificate().Raw}, PrivateKey: otherMaster.PrivateKey}),
			PinFingerprint(ca.Fingerprint()),
			[]string{"not valid for the pinned CA"},
		},
		{
			"no CA in chain, fingerprint pin",
			presenting(server, &tls.Certificate{Certificate: [][]byte{master.Leaf.Raw}, PrivateKey: master.PrivateKey}),
			PinFingerprint(ca.Fingerprint()),
			[]string{"sent no CA certificate"},
		},
		{
			"no CA in chain, file pin",
			presenting(server, &tls.Certificate{Certificate: [][]byte{master.Leaf.Raw}, PrivateKey: master.PrivateKey}),
			filePin, nil,
		},
		{
			"other CA's master without chain, file pin",
			presenting(server, &tls.Certificate{Certificate: [][]byte{otherMaster.Leaf.Raw}, PrivateKey: otherMaster.PrivateKey}),
			filePin,
			[]string{"not valid for the pinned CA"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handshake(t, tc.server, tc.pin.EnrollTLS())
			t.Logf("client: %v; server: %v", r.clientErr, r.serverErr)
			if tc.want == nil {
				if r.clientErr != nil || r.serverErr != nil {
					t.Fatalf("client: %v; server: %v", r.clientErr, r.serverErr)
				}
				if _, err := PeerIdentity(r.server); !errors.Is(err, ErrNoClientCertificate) {
					t.Errorf("PeerIdentity err = %v, want ErrNoClientCertificate", err)
				}
				if r.server.NegotiatedProtocol != "h2" || r.server.Version != tls.VersionTLS13 {
					t.Errorf("ALPN %q, version %x", r.server.NegotiatedProtocol, r.server.Version)
				}
				return
			}
			if r.clientErr == nil {
				t.Fatal("client accepted the server")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.clientErr.Error(), w) {
					t.Errorf("client error %q does not contain %q", r.clientErr, w)
				}
			}
			if r.serverErr == nil {
				t.Error("server saw no handshake error")
			}
		})
	}
}

func TestPinFile(t *testing.T) {
	ca, dir := testCA(t)
	p, err := PinFile(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Fingerprint() != ca.Fingerprint() || p.String() != ca.Fingerprint().String() {
		t.Errorf("pin %v, want %v", p, ca.Fingerprint())
	}
	slave := enroll(t, ca, Identity{RoleSlave, "s"}, 0)
	leafFile := filepath.Join(t.TempDir(), "leaf.pem")
	if err := writeFileAtomic(leafFile, encodeCertPEM(slave.cert.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		filepath.Join(dir, "missing.pem"),
		filepath.Join(dir, CAKeyFile), // no certificate
		leafFile,                      // not a CA
	} {
		if _, err := PinFile(f); err == nil {
			t.Errorf("PinFile(%s) succeeded", filepath.Base(f))
		}
	}
}

func TestMutualTLS(t *testing.T) {
	ca, _ := testCA(t)
	other, _ := testCA(t)
	server := serverTLS(t, ca)
	slave := enroll(t, ca, Identity{RoleSlave, "srv1.xrd.test"}, 0)
	hv := enroll(t, ca, Identity{RoleHypervisor, "hv1"}, 0)
	foreign := enroll(t, other, Identity{RoleSlave, "srv1.xrd.test"}, 0)
	expired := enroll(t, ca, Identity{RoleSlave, "old"}, time.Nanosecond)

	// A client that accepts ca's master but presents a certificate
	// from another CA: only the server can refuse it.
	foreignClient := foreign.ClientTLS()
	foreignClient.VerifyConnection = PinFingerprint(ca.Fingerprint()).EnrollTLS().VerifyConnection
	expiredClient := expired.ClientTLS()

	for _, tc := range []struct {
		name   string
		client *tls.Config
		want   Identity // zero: no identity (PeerIdentity fails)
		refuse string   // "server" or "client": who refuses the handshake
	}{
		{"slave", slave.ClientTLS(), Identity{RoleSlave, "srv1.xrd.test"}, ""},
		{"hypervisor", hv.ClientTLS(), Identity{RoleHypervisor, "hv1"}, ""},
		{"no client certificate", PinFingerprint(ca.Fingerprint()).EnrollTLS(), Identity{}, ""},
		{"client certificate from another CA", foreignClient, Identity{}, "server"},
		{"expired client certificate", expiredClient, Identity{}, "server"},
		{"credentials from another CA", foreign.ClientTLS(), Identity{}, "client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handshake(t, server, tc.client)
			t.Logf("client: %v; server: %v", r.clientErr, r.serverErr)
			switch tc.refuse {
			case "server":
				if r.serverErr == nil {
					t.Fatalf("server accepted the client as %v", r.server.VerifiedChains)
				}
				if r.clientErr == nil {
					t.Error("client saw no error")
				}
				return
			case "client":
				if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), "does not match the pinned") {
					t.Fatalf("client error %v", r.clientErr)
				}
				if r.serverErr == nil {
					t.Error("server saw no error")
				}
				return
			}
			if r.clientErr != nil || r.serverErr != nil {
				t.Fatalf("client: %v; server: %v", r.clientErr, r.serverErr)
			}
			got, err := PeerIdentity(r.server)
			if tc.want == (Identity{}) {
				if !errors.Is(err, ErrNoClientCertificate) {
					t.Errorf("PeerIdentity = %v, %v; want ErrNoClientCertificate", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("PeerIdentity = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPeerIdentityUnverified(t *testing.T) {
	ca, _ := testCA(t)
	slave := enroll(t, ca, Identity{RoleSlave, "s"}, 0)
	// A certificate the TLS stack did not verify must not be trusted.
	_, err := PeerIdentity(tls.ConnectionState{PeerCertificates: slave.certChain()})
	if err == nil || errors.Is(err, ErrNoClientCertificate) {
		t.Errorf("err = %v", err)
	}
}
