package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// File names in the master's state directory.
const (
	CACertFile     = "ca.pem"
	CAKeyFile      = "ca-key.pem"
	MasterCertFile = "master.pem"
	MasterKeyFile  = "master-key.pem"
)

const (
	// caValidity is long because replacing the CA means re-enrolling every
	// daemon.
	caValidity = 10 * 365 * 24 * time.Hour
	// DefaultValidity is what Issue uses for a validity of 0: long enough
	// that test machines do not need renewal machinery.
	DefaultValidity = 5 * 365 * 24 * time.Hour
	// masterValidity is short because the master renews its own
	// certificate automatically.
	masterValidity = 365 * 24 * time.Hour
	// masterRenewBefore: the master certificate is reissued when it has
	// less than this left.
	masterRenewBefore = 30 * 24 * time.Hour
	// backdate tolerates clocks behind the master's.
	backdate = time.Hour
)

// CA is the master's certificate authority. It is created once, on the
// master's first start, and never regenerated: every daemon pins it.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	fp      Fingerprint

	// Test hooks: the clock, and the master certificate validity.
	now            func() time.Time
	masterValidity time.Duration
}

// LoadOrCreateCA loads ca.pem and ca-key.pem from dir, or creates them
// (ECDSA P-256, valid 10 years; dir 0700, key 0600) if both are missing;
// created reports the latter, so the master can tell the operator the new
// fingerprint to give to daemons. If only one of the files exists it fails
// rather than replace a CA that daemons may already trust.
func LoadOrCreateCA(dir string) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certExists, err := exists(certPath)
	if err != nil {
		return nil, false, fmt.Errorf("CA: %w", err)
	}
	keyExists, err := exists(keyPath)
	if err != nil {
		return nil, false, fmt.Errorf("CA: %w", err)
	}
	switch {
	case certExists && keyExists:
		ca, err := loadCA(certPath, keyPath)
		return ca, false, err
	case certExists:
		return nil, false, fmt.Errorf("CA: %s exists but %s does not; restore the key (a new CA would invalidate every enrolled daemon), or remove %s to start over", certPath, keyPath, certPath)
	case keyExists:
		return nil, false, fmt.Errorf("CA: %s exists but %s does not; restore the certificate, or remove %s to start over", keyPath, certPath, keyPath)
	}
	ca, err = createCA(dir, certPath, keyPath)
	if err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

func loadCA(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", certPath, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", keyPath, err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("CA %s: %q is not a CA certificate", certPath, cert.Subject.CommonName)
	}
	if !keyMatches(cert, key) {
		return nil, fmt.Errorf("CA: %s does not belong to %s", keyPath, certPath)
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, fmt.Errorf("CA %s expired on %s", certPath, cert.NotAfter.Format(time.DateOnly))
	}
	return newCA(cert, key), nil
}

func createCA(dir, certPath, keyPath string) (*CA, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	// A random suffix tells CAs of different installations apart in logs
	// and openssl output.
	var tag [4]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"xrdtest"}, CommonName: "xrdtest CA " + hex.EncodeToString(tag[:])},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Only leaves below this CA: no intermediates to reason about.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("CA: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	// Key first: a crash in between leaves only the key, which
	// LoadOrCreateCA reports instead of silently making another CA.
	if err := writeFileAtomic(keyPath, keyPEM, keyMode); err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	if err := writeFileAtomic(certPath, encodeCertPEM(der), certMode); err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	return newCA(cert, key), nil
}

func newCA(cert *x509.Certificate, key crypto.Signer) *CA {
	return &CA{cert: cert, certPEM: encodeCertPEM(cert.Raw), key: key, fp: FingerprintOf(cert)}
}

func (ca *CA) clock() time.Time {
	if ca.now != nil {
		return ca.now()
	}
	return time.Now()
}

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM, as sent to enrolling daemons.
func (ca *CA) CertPEM() []byte { return slices.Clone(ca.certPEM) }

// Fingerprint returns the CA fingerprint, the pin daemons are given.
func (ca *CA) Fingerprint() Fingerprint { return ca.fp }

// Issue signs a CSR (PEM or DER) for id, valid for validity
// (DefaultValidity if 0). The CSR's signature is checked, proving the
// requester holds the key; its subject and SANs are ignored: the identity
// is what the caller decided (from the enrollment token), not what the
// requester asked for. RoleMaster is refused, since a master certificate
// is what daemons trust a server by.
func (ca *CA) Issue(csr []byte, id Identity, validity time.Duration) (certPEM []byte, err error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	if id.Role == RoleMaster {
		return nil, errors.New("refusing to issue a master certificate: only the master holds one")
	}
	if validity < 0 {
		return nil, fmt.Errorf("negative validity %v", validity)
	}
	if validity == 0 {
		validity = DefaultValidity
	}
	req, err := verifiedCSR(csr)
	if err != nil {
		return nil, err
	}
	der, err := ca.issue(req.PublicKey, id, validity)
	if err != nil {
		return nil, err
	}
	return encodeCertPEM(der), nil
}

// verifiedCSR parses a request (PEM or DER) and checks that its signer
// holds the key and that the key is strong enough.
func verifiedCSR(csr []byte) (*x509.CertificateRequest, error) {
	req, err := parseCSR(csr)
	if err != nil {
		return nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	if err := checkPublicKey(req.PublicKey); err != nil {
		return nil, err
	}
	return req, nil
}

func parseCSR(data []byte) (*x509.CertificateRequest, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != pemCSR && b.Type != pemCSROld {
			return nil, fmt.Errorf("PEM block is %q, want %q", b.Type, pemCSR)
		}
		der = b.Bytes
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	return req, nil
}

// checkPublicKey refuses keys too weak to be worth a certificate.
func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small (want at least 2048)", k.N.BitLen())
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // positive, never 0
}

// leafTemplate is the part of a leaf certificate's template that every
// leaf of the CA shares: a new serial number and a validity from backdate
// ago, cut at the CA's own expiry, beyond which the certificate could not
// verify.
func (ca *CA) leafTemplate(validity time.Duration) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := ca.clock()
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	return &x509.Certificate{SerialNumber: serial, NotBefore: now.Add(-backdate), NotAfter: notAfter, BasicConstraintsValid: true}, nil
}

// issue creates the certificate DER for pub and id (see leafTemplate for
// its validity).
func (ca *CA) issue(pub crypto.PublicKey, id Identity, validity time.Duration, hosts ...string) ([]byte, error) {
	tmpl, err := ca.leafTemplate(validity)
	if err != nil {
		return nil, err
	}
	// Daemons only ever act as TLS clients; only the master serves, so
	// only a master certificate is usable as a server certificate.
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if id.Role == RoleMaster {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	tmpl.Subject = pkix.Name{CommonName: id.Name}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.URIs = []*url.URL{id.uri()}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", id, err)
	}
	return der, nil
}

// ServerTLS returns the master's server configuration. It presents a
// master certificate issued by the CA, kept in dir as master.pem and
// master-key.pem and reissued when missing, unusable or within 30 days of
// expiry (checked again at each handshake, so a long-running master renews
// without a restart). The chain sent includes the CA certificate, so a
// daemon pinning only the fingerprint can check it.
//
// Client certificates are optional at the TLS layer (enrollment has none)
// but verified against the CA when given; the gRPC layer requires one for
// everything else and reads it with PeerIdentity.
//
// hosts are the host names and IP addresses the certificate names too, so
// that browsers and HTTPS clients that trust the CA accept it for the web
// port; a kept certificate that lacks one of them is reissued.
func (ca *CA) ServerTLS(dir string, hosts ...string) (*tls.Config, error) {
	m := &masterCert{ca: ca, dir: dir, hosts: hosts}
	if _, err := m.get(); err != nil {
		return nil, err
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(ca.cert)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2"},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  clientCAs,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return m.get()
		},
	}, nil
}

// masterCert holds the master's current server certificate.
type masterCert struct {
	ca    *CA
	dir   string
	hosts []string

	mu   sync.Mutex
	cert *tls.Certificate
}

func (m *masterCert) get() (*tls.Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.ca.clock()
	if m.cert != nil && !m.ca.needsRenewal(m.cert.Leaf, now) {
		return m.cert, nil
	}
	if m.cert == nil {
		if c, err := m.load(); err == nil && !m.ca.needsRenewal(c.Leaf, now) && names(c.Leaf, m.hosts) {
			m.cert = c
			return c, nil
		}
		// Missing, damaged, from another CA or expiring: reissue, as the
		// master certificate is derived state.
	}
	c, err := m.create()
	if err != nil {
		if m.cert != nil && now.Before(m.cert.Leaf.NotAfter) {
			return m.cert, nil // try again at the next handshake
		}
		return nil, err
	}
	m.cert = c
	return c, nil
}

// needsRenewal: less than 30 days left (or not yet valid, after a clock
// change), unless the CA's own expiry means a new one would not last
// longer.
func (ca *CA) needsRenewal(leaf *x509.Certificate, now time.Time) bool {
	if now.Before(leaf.NotBefore) {
		return true
	}
	return now.Add(masterRenewBefore).After(leaf.NotAfter) && ca.cert.NotAfter.After(leaf.NotAfter)
}

// names reports whether leaf names every one of hosts.
func names(leaf *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func (m *masterCert) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(filepath.Join(m.dir, MasterCertFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(m.dir, MasterKeyFile))
	if err != nil {
		return nil, err
	}
	leaf, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	if !keyMatches(leaf, key) {
		return nil, errors.New("master key does not match certificate")
	}
	if err := leaf.CheckSignatureFrom(m.ca.cert); err != nil {
		return nil, err
	}
	if id, err := IdentityOf(leaf); err != nil || id.Role != RoleMaster {
		return nil, errors.New("not a master certificate")
	}
	return m.ca.tlsCert(leaf, key), nil
}

func (m *masterCert) create() (*tls.Certificate, error) {
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	validity := m.ca.masterValidity
	if validity == 0 {
		validity = masterValidity
	}
	der, err := m.ca.issue(key.Public(), Identity{Role: RoleMaster, Name: masterName()}, validity, m.hosts...)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.dir, dirMode); err != nil {
		return nil, fmt.Errorf("master certificate: %w", err)
	}
	// Key first: a crash in between leaves a mismatched pair, which load
	// rejects, so the next start reissues.
	if err := writeFileAtomic(filepath.Join(m.dir, MasterKeyFile), keyPEM, keyMode); err != nil {
		return nil, fmt.Errorf("master certificate: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(m.dir, MasterCertFile), encodeCertPEM(der), certMode); err != nil {
		return nil, fmt.Errorf("master certificate: %w", err)
	}
	return m.ca.tlsCert(leaf, key), nil
}

// tlsCert chains leaf with the CA certificate, for pinning by fingerprint.
func (ca *CA) tlsCert(leaf *x509.Certificate, key crypto.Signer) *tls.Certificate {
	return &tls.Certificate{
		Certificate: [][]byte{leaf.Raw, ca.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}
}

// masterName names the master certificate after the host, for humans;
// nothing checks it.
func masterName() string {
	if h, err := os.Hostname(); err == nil && validateName(h) == nil {
		return h
	}
	return "master"
}
