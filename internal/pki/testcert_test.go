package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"testing"
)

// TestSignForTests: a test certificate carries the subject and names the
// request asks for, verifies against the CA, and never an xrdtest
// identity, even when the request asks for one.
func TestSignForTests(t *testing.T) {
	ca, _ := testCA(t)
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := url.Parse("xrdtest://master/evil")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "srv1.xrd.test", Organization: []string{"xrd"}},
		DNSNames: []string{"srv1.xrd.test"}, IPAddresses: []net.IP{net.ParseIP("192.168.1.5")}, URIs: []*url.URL{forged},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignForTests(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	cert := parsePEM(t, certPEM)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	for _, name := range []string{"srv1.xrd.test", "192.168.1.5"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cert.Subject.CommonName != "srv1.xrd.test" || len(cert.URIs) != 0 {
		t.Errorf("subject %v, URIs %v", cert.Subject, cert.URIs)
	}
	if id, err := IdentityOf(cert); err == nil {
		t.Errorf("a test certificate passes for %v", id)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d < 364*24*60*60*1e9 {
		t.Errorf("validity %v", d)
	}
	for _, bad := range []struct{ csr, want string }{
		{"not a request", "parse CSR"},
		{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: append(der[:len(der)-8:len(der)-8], make([]byte, 8)...)})), "CSR"},
	} {
		if _, err := ca.SignForTests([]byte(bad.csr)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("SignForTests(%.20q): %v, want %q", bad.csr, err, bad.want)
		}
	}
	empty, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if _, err := ca.SignForTests(empty); err == nil || !strings.Contains(err.Error(), "names nothing") {
		t.Errorf("empty request: %v", err)
	}
}
