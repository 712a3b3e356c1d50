package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreateCA(t *testing.T) {
	ca, dir := testCA(t)
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("dir mode %o, want 700", got)
	}
	if got := mode(t, filepath.Join(dir, CAKeyFile)); got != 0o600 {
		t.Errorf("key mode %o, want 600", got)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, ca.CertPEM()) {
		t.Error("CertPEM differs from ca.pem")
	}
	if want := Fingerprint(sha256.Sum256(ca.Certificate().Raw)); ca.Fingerprint() != want {
		t.Errorf("Fingerprint %v, want %v", ca.Fingerprint(), want)
	}
	c := ca.Certificate()
	if !c.IsCA || c.NotAfter.Sub(time.Now()) < 9*365*24*time.Hour {
		t.Errorf("CA: IsCA %v, NotAfter %v", c.IsCA, c.NotAfter)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("CA key is %T", c.PublicKey)
	}

	again, created, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true when loading")
	}
	if again.Fingerprint() != ca.Fingerprint() {
		t.Errorf("fingerprint changed on reload: %v -> %v", ca.Fingerprint(), again.Fingerprint())
	}
	// The reloaded CA signs certificates that chain to the original.
	c2 := enroll(t, again, Identity{RoleSlave, "s"}, 0)
	if err := c2.cert.CheckSignatureFrom(ca.Certificate()); err != nil {
		t.Error(err)
	}
}

func TestLoadOrCreateCARefusesPartialState(t *testing.T) {
	_, dir := testCA(t)
	for _, missing := range []string{CAKeyFile, CACertFile} {
		t.Run(missing, func(t *testing.T) {
			d := t.TempDir()
			for _, f := range []string{CAKeyFile, CACertFile} {
				if f == missing {
					continue
				}
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := LoadOrCreateCA(d); err == nil || !strings.Contains(err.Error(), missing) {
				t.Fatalf("err = %v, want one naming %s", err, missing)
			}
			if ok, _ := exists(filepath.Join(d, missing)); ok {
				t.Errorf("%s was recreated", missing)
			}
		})
	}
	t.Run("mismatched key", func(t *testing.T) {
		_, otherDir := testCA(t)
		d := t.TempDir()
		copyFile(t, filepath.Join(dir, CACertFile), filepath.Join(d, CACertFile))
		copyFile(t, filepath.Join(otherDir, CAKeyFile), filepath.Join(d, CAKeyFile))
		if _, _, err := LoadOrCreateCA(d); err == nil || !strings.Contains(err.Error(), "does not belong") {
			t.Fatalf("err = %v", err)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestIssue(t *testing.T) {
	ca, _ := testCA(t)
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csrFor := func(id Identity) []byte {
		t.Helper()
		csr, err := CSR(key, id)
		if err != nil {
			t.Fatal(err)
		}
		return csr
	}
	csr := csrFor(Identity{RoleSlave, "srv1.xrd.test"})
	csrDER, _ := pem.Decode(csr)

	for _, tc := range []struct {
		name string
		id   Identity
		csr  []byte
	}{
		{"slave PEM", Identity{RoleSlave, "srv1.xrd.test"}, csr},
		{"slave DER", Identity{RoleSlave, "srv1.xrd.test"}, csrDER.Bytes},
		{"hypervisor", Identity{RoleHypervisor, "hv_01"}, csrFor(Identity{RoleHypervisor, "hv_01"})},
		{"client", Identity{RoleClient, "alice"}, csrFor(Identity{RoleClient, "alice"})},
		// The CSR asks for another name: the caller's identity wins.
		{"CSR names another identity", Identity{RoleSlave, "granted"}, csrFor(Identity{RoleHypervisor, "asked"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, err := ca.Issue(tc.csr, tc.id, 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c := parsePEM(t, certPEM)
			if len(c.URIs) != 1 || c.URIs[0].String() != "xrdtest://"+string(tc.id.Role)+"/"+tc.id.Name {
				t.Errorf("URIs %v", c.URIs)
			}
			if c.Subject.CommonName != tc.id.Name {
				t.Errorf("CN %q, want %q", c.Subject.CommonName, tc.id.Name)
			}
			if got, err := IdentityOf(c); err != nil || got != tc.id {
				t.Errorf("IdentityOf = %v, %v; want %v", got, err, tc.id)
			}
			if !keyMatches(c, key) {
				t.Error("certificate is not for the CSR's key")
			}
			if c.IsCA || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("IsCA %v, ExtKeyUsage %v: want a client-only leaf", c.IsCA, c.ExtKeyUsage)
			}
			if d := c.NotAfter.Sub(time.Now()); d < 23*time.Hour || d > 25*time.Hour {
				t.Errorf("NotAfter %v", c.NotAfter)
			}
			if err := c.CheckSignatureFrom(ca.Certificate()); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("default validity, cut at CA expiry", func(t *testing.T) {
		c := parsePEM(t, must(ca.Issue(csr, Identity{RoleSlave, "a"}, 0)))
		if d := c.NotAfter.Sub(time.Now()); d < DefaultValidity-time.Hour || d > DefaultValidity+time.Hour {
			t.Errorf("NotAfter %v", c.NotAfter)
		}
		c = parsePEM(t, must(ca.Issue(csr, Identity{RoleSlave, "a"}, 50*365*24*time.Hour)))
		if !c.NotAfter.Equal(ca.Certificate().NotAfter) {
			t.Errorf("NotAfter %v, want the CA's %v", c.NotAfter, ca.Certificate().NotAfter)
		}
	})

	badSig := bytes.Clone(csrDER.Bytes)
	badSig[len(badSig)-1] ^= 0x55
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakCSR, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edCSR, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, edKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(edCSR, Identity{RoleSlave, "ed"}, 0); err != nil {
		t.Errorf("Ed25519 CSR: %v", err)
	}
	for _, tc := range []struct {
		name string
		id   Identity
		csr  []byte
		want string
	}{
		{"bad CSR signature", Identity{RoleSlave, "x"}, badSig, "signature"},
		{"garbage CSR", Identity{RoleSlave, "x"}, []byte("not a csr"), "CSR"},
		{"certificate instead of CSR", Identity{RoleSlave, "x"}, ca.CertPEM(), "CERTIFICATE"},
		{"weak RSA key", Identity{RoleSlave, "x"}, weakCSR, "too small"},
		{"name with slash", Identity{RoleSlave, "a/b"}, csr, "invalid name"},
		{"empty name", Identity{RoleSlave, ""}, csr, "empty name"},
		{"name with semicolon", Identity{RoleSlave, "x;y"}, csr, "invalid name"},
		{"name with space", Identity{RoleSlave, "x y"}, csr, "invalid name"},
		{"non-ASCII name", Identity{RoleSlave, "été"}, csr, "invalid name"},
		{"dot dot", Identity{RoleSlave, ".."}, csr, "invalid name"},
		{"name too long", Identity{RoleSlave, strings.Repeat("a", 254)}, csr, "longer than"},
		{"unknown role", Identity{"admin", "x"}, csr, "unknown role"},
		{"empty role", Identity{"", "x"}, csr, "unknown role"},
		{"master role", Identity{RoleMaster, "x"}, csr, "master"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := ca.Issue(tc.csr, tc.id, time.Hour)
			if err == nil {
				t.Fatalf("issued %s", cert)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestValidNames(t *testing.T) {
	for _, n := range []string{"srv1.xrd.test", "a", "SRV-1", "hv_01", "1.2.3.4", "-x", strings.Repeat("a", 253)} {
		if err := validateName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
}

// selfSigned makes a certificate with the given URI SANs, to feed
// IdentityOf shapes Issue never produces.
func selfSigned(t *testing.T, uris ...string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "x"}}
	for _, u := range uris {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, p)
	}
	c, _ := testutil.SelfSigned(t, tmpl)
	return c
}

func TestIdentityOf(t *testing.T) {
	for _, tc := range []struct {
		uris []string
		want Identity // zero: error
	}{
		{[]string{"xrdtest://slave/srv1.xrd.test"}, Identity{RoleSlave, "srv1.xrd.test"}},
		{[]string{"https://example.org/", "xrdtest://master/m"}, Identity{RoleMaster, "m"}},
		{[]string{"xrdtest://client/alice"}, Identity{RoleClient, "alice"}},
		{nil, Identity{}},
		{[]string{"https://example.org/"}, Identity{}},
		{[]string{"xrdtest://slave/a", "xrdtest://master/b"}, Identity{}},
		{[]string{"xrdtest://admin/a"}, Identity{}},
		{[]string{"xrdtest://slave/a/b"}, Identity{}},
		{[]string{"xrdtest://slave/"}, Identity{}},
		{[]string{"xrdtest://slave"}, Identity{}},
		{[]string{"xrdtest://slave/a?b=c"}, Identity{}},
		{[]string{"xrdtest://slave:1/a"}, Identity{}},
		{[]string{"xrdtest://u@slave/a"}, Identity{}},
		{[]string{"xrdtest://slave/a%2Fb"}, Identity{}},
	} {
		got, err := IdentityOf(selfSigned(t, tc.uris...))
		if tc.want == (Identity{}) {
			if err == nil {
				t.Errorf("%v: got %v, want an error", tc.uris, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: got %v, %v; want %v", tc.uris, got, err, tc.want)
		}
	}
	if _, err := IdentityOf(nil); err == nil {
		t.Error("IdentityOf(nil) succeeded")
	}
}
