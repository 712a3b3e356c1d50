package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFingerprint(t *testing.T) {
	var f Fingerprint
	for i := range f {
		f[i] = byte(i*7 + 0xa0)
	}
	lowerHex := strings.TrimPrefix(f.String(), "sha256:")
	if len(lowerHex) != 64 || strings.ToLower(lowerHex) != lowerHex || !strings.HasPrefix(f.String(), "sha256:") {
		t.Fatalf("String() = %q", f.String())
	}
	var pairs []string
	for i := 0; i < len(lowerHex); i += 2 {
		pairs = append(pairs, strings.ToUpper(lowerHex[i:i+2]))
	}
	colons := strings.Join(pairs, ":")

	for _, s := range []string{
		f.String(),
		lowerHex,
		strings.ToUpper(lowerHex),
		"SHA256:" + strings.ToUpper(lowerHex),
		colons,
		strings.ToLower(colons),
		"sha256:" + colons,
		"sha256 Fingerprint=" + colons, // openssl 3
		"SHA256 Fingerprint=" + colons, // openssl 1.1
		"  " + f.String() + "\n",
	} {
		got, err := ParseFingerprint(s)
		if err != nil || got != f {
			t.Errorf("ParseFingerprint(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{
		"",
		"sha256:",
		lowerHex[:62],
		lowerHex + "00",
		"zz" + lowerHex[2:],
		"sha1:" + lowerHex,
		"md5 Fingerprint=" + colons,
		colons[:len(colons)-3],
		colons + ":00",
		strings.Replace(colons, ":", "", 1),   // ragged grouping
		strings.Replace(colons, ":", "::", 1), // empty group
		lowerHex[:32] + " " + lowerHex[32:],
	} {
		if got, err := ParseFingerprint(s); err == nil {
			t.Errorf("ParseFingerprint(%q) = %v, want an error", s, got)
		}
	}
}

// TestFingerprintOpenSSL checks that the fingerprint and the parser agree
// with what operators see from openssl.
func TestFingerprintOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl")
	}
	ca, dir := testCA(t)
	out, err := exec.Command(openssl, "x509", "-noout", "-fingerprint", "-sha256", "-in", filepath.Join(dir, CACertFile)).Output()
	if err != nil {
		t.Skip("openssl:", err)
	}
	got, err := ParseFingerprint(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if got != ca.Fingerprint() {
		t.Errorf("openssl says %s, we say %s", got, ca.Fingerprint())
	}
}

func TestTokenEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"s3cret-token", "s3cret-token", true},
		{"s3cret-token", "s3cret-tokem", false},
		{"s3cret-token", "s3cret", false},
		{"s3cret", "s3cret-token", false},
		{"S3cret-token", "s3cret-token", false},
		{"", "s3cret", false},
		{"s3cret", "", false},
		{"", "", false}, // an unset token admits no one
	} {
		if got := TokenEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("TokenEqual(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestCredentials(t *testing.T) {
	ca, _ := testCA(t)
	other, _ := testCA(t)
	id := Identity{RoleSlave, "srv1.xrd.test"}
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.Issue(must(CSR(key, id)), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "state", "slave")

	_, err = LoadCredentials(dir)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("before enrollment: err = %v, want os.ErrNotExist", err)
	}

	saved, err := SaveCredentials(dir, key, certPEM, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("dir mode %o", got)
	}
	if got := mode(t, filepath.Join(dir, KeyFile)); got != 0o600 {
		t.Errorf("key mode %o", got)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	loaded, err := LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Credentials{saved, loaded} {
		if c.Identity != id {
			t.Errorf("Identity %v", c.Identity)
		}
		if c.CAFingerprint() != ca.Fingerprint() {
			t.Errorf("CAFingerprint %v, want %v", c.CAFingerprint(), ca.Fingerprint())
		}
		if d := time.Until(c.NotAfter()); d < DefaultValidity-time.Hour {
			t.Errorf("NotAfter %v", c.NotAfter())
		}
	}
	if !loaded.key.Equal(key) {
		t.Error("loaded key differs")
	}
	// The loaded credentials work.
	if r := handshake(t, serverTLS(t, ca), loaded.ClientTLS()); r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("client: %v; server: %v", r.clientErr, r.serverErr)
	}

	otherKey, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("save refuses mismatches", func(t *testing.T) {
		d := t.TempDir()
		if _, err := SaveCredentials(d, otherKey, certPEM, ca.CertPEM()); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("other key: err = %v", err)
		}
		if _, err := SaveCredentials(d, key, certPEM, other.CertPEM()); err == nil || !strings.Contains(err.Error(), "not issued by") {
			t.Errorf("other CA: err = %v", err)
		}
		if _, err := SaveCredentials(d, key, []byte("junk"), ca.CertPEM()); err == nil {
			t.Error("junk certificate saved")
		}
		if _, err := LoadCredentials(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused save left something: %v", err)
		}
	})

	otherKeyPEM, err := encodeKeyPEM(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		data []byte // nil: remove
		want string
	}{
		{"key does not match", KeyFile, otherKeyPEM, "does not match"},
		{"cert not from ca.pem", CACertFile, other.CertPEM(), "not issued by"},
		{"key missing", KeyFile, nil, "key.pem is missing"},
		{"ca missing", CACertFile, nil, "ca.pem is missing"},
		{"garbage cert", CertFile, []byte("garbage"), "PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			if _, err := SaveCredentials(d, key, certPEM, ca.CertPEM()); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(d, tc.file)
			if tc.data == nil {
				err = os.Remove(p)
			} else {
				err = os.WriteFile(p, tc.data, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err := LoadCredentials(d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if errors.Is(err, os.ErrNotExist) {
				t.Errorf("damaged credentials reported as not enrolled: %v", err)
			}
		})
	}
}

func TestMasterCertificate(t *testing.T) {
	ca, dir := testCA(t)
	certPath := filepath.Join(dir, MasterCertFile)
	readLeaf := func() ([]byte, time.Time) {
		t.Helper()
		b, err := os.ReadFile(certPath)
		if err != nil {
			t.Fatal(err)
		}
		return b, parsePEM(t, b).NotAfter
	}

	// A fresh master certificate: role master, server auth, chained with
	// the CA, key 0600.
	cfg, err := ca.ServerTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.ClientAuth != tls.VerifyClientCertIfGiven || len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "h2" {
		t.Errorf("config: MinVersion %x, ClientAuth %v, NextProtos %v", cfg.MinVersion, cfg.ClientAuth, cfg.NextProtos)
	}
	c := servedCert(t, cfg)
	if id, err := IdentityOf(c.Leaf); err != nil || id.Role != RoleMaster {
		t.Errorf("master identity %v, %v", id, err)
	}
	if len(c.Certificate) != 2 || string(c.Certificate[1]) != string(ca.Certificate().Raw) {
		t.Error("chain does not end with the CA")
	}
	if got := mode(t, filepath.Join(dir, MasterKeyFile)); got != 0o600 {
		t.Errorf("master key mode %o", got)
	}
	first, notAfter := readLeaf()
	if d := time.Until(notAfter); d < 360*24*time.Hour {
		t.Errorf("master NotAfter %v", notAfter)
	}

	// Kept across restarts while valid.
	if _, err := ca.ServerTLS(dir); err != nil {
		t.Fatal(err)
	}
	if again, _ := readLeaf(); string(again) != string(first) {
		t.Error("valid master certificate was reissued")
	}

	// One expiring within 30 days is reissued at the next start.
	ca.masterValidity = 10 * 24 * time.Hour
	os.Remove(certPath)
	if _, err := ca.ServerTLS(dir); err != nil {
		t.Fatal(err)
	}
	short, notAfter := readLeaf()
	if d := time.Until(notAfter); d > 11*24*time.Hour {
		t.Fatalf("hook ignored: NotAfter %v", notAfter)
	}
	restarted, _, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = restarted.ServerTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	renewed, notAfter := readLeaf()
	if string(renewed) == string(short) || time.Until(notAfter) < 360*24*time.Hour {
		t.Errorf("expiring master certificate not renewed: NotAfter %v", notAfter)
	}
	if string(servedCert(t, cfg).Leaf.Raw) != string(parsePEM(t, renewed).Raw) {
		t.Error("served certificate is not the renewed one")
	}

	// A running master renews at a handshake once the time comes.
	now := time.Now()
	restarted.now = func() time.Time { return now }
	before := servedCert(t, cfg)
	now = now.Add(340 * 24 * time.Hour)
	after := servedCert(t, cfg)
	if after.Leaf.SerialNumber.Cmp(before.Leaf.SerialNumber) == 0 {
		t.Error("not renewed at 25 days before expiry")
	}
	if again := servedCert(t, cfg); again != after {
		t.Error("renewed again")
	}
	if onDisk, _ := readLeaf(); string(onDisk) != string(encodeCertPEM(after.Leaf.Raw)) {
		t.Error("renewed certificate not saved")
	}

	// Near the CA's own expiry a renewal would not last longer: keep the
	// certificate rather than reissue it at every handshake.
	capped := &masterCert{ca: restarted, dir: t.TempDir()}
	now = restarted.cert.NotAfter.Add(-40 * 24 * time.Hour)
	c1, err := capped.get()
	if err != nil {
		t.Fatal(err)
	}
	if !c1.Leaf.NotAfter.Equal(restarted.cert.NotAfter) {
		t.Errorf("NotAfter %v not cut at the CA's %v", c1.Leaf.NotAfter, restarted.cert.NotAfter)
	}
	now = now.Add(20 * 24 * time.Hour)
	if c2, _ := capped.get(); c2 != c1 {
		t.Error("reissued although the CA expires first")
	}

	// A master certificate from another CA in dir (say, a restored
	// backup) is replaced.
	other, _ := testCA(t)
	otherCfg := serverTLS(t, other)
	foreignDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreignDir, MasterCertFile), encodeCertPEM(servedCert(t, otherCfg).Leaf.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	restarted.now = nil
	cfg, err = restarted.ServerTLS(foreignDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := servedCert(t, cfg).Leaf.CheckSignatureFrom(restarted.Certificate()); err != nil {
		t.Error(err)
	}
}

// TestMasterCertificateHosts: the master certificate names the hosts it
// is asked for (an HTTPS client trusting the CA accepts it), and one kept
// from before that lacks a host is reissued.
func TestMasterCertificateHosts(t *testing.T) {
	ca, _ := testCA(t)
	dir := filepath.Join(t.TempDir(), "master")
	cfg, err := ca.ServerTLS(dir, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	first := servedCert(t, cfg).Leaf
	cfg, err = ca.ServerTLS(dir, "localhost", "master.example.org", "127.0.0.1", "::1")
	if err != nil {
		t.Fatal(err)
	}
	leaf := servedCert(t, cfg).Leaf
	if string(leaf.Raw) == string(first.Raw) {
		t.Fatal("a certificate lacking a host was kept")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	for _, h := range []string{"localhost", "master.example.org", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: roots}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if err := leaf.VerifyHostname("other.example.org"); err == nil {
		t.Error("names a host it was not asked for")
	}
	if id, err := IdentityOf(leaf); err != nil || id.Role != RoleMaster {
		t.Errorf("identity %v, %v", id, err)
	}
	// The same hosts again: kept.
	cfg, err = ca.ServerTLS(dir, "master.example.org", "::1")
	if err != nil {
		t.Fatal(err)
	}
	if string(servedCert(t, cfg).Leaf.Raw) != string(leaf.Raw) {
		t.Error("a certificate naming every host was reissued")
	}
}
