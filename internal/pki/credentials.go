package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// File names in a daemon's state directory. cert.pem is written last, so
// its presence means "enrolled".
const (
	KeyFile  = "key.pem"
	CertFile = "cert.pem"
	// The daemon's copy of the master's CA has the same name as the
	// master's: CACertFile.
)

// NewKey creates a daemon key (ECDSA P-256, like the CA's: small,
// fast, and supported by every TLS stack).
func NewKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// CSR returns a PEM certificate request for id signed with key. The master
// decides the identity it issues; the CSR names id so the request is
// self-describing, and its signature proves possession of the key.
func CSR(key *ecdsa.PrivateKey, id Identity) ([]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: id.Name},
		URIs:    []*url.URL{id.uri()},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der}), nil
}

// NewRequest makes a new key (NewKey) and its certificate request for id
// (CSR): what a daemon enrolls with.
func NewRequest(id Identity) (key *ecdsa.PrivateKey, csr []byte, err error) {
	if key, err = NewKey(); err != nil {
		return nil, nil, err
	}
	if csr, err = CSR(key, id); err != nil {
		return nil, nil, err
	}
	return key, csr, nil
}

// Credentials are a daemon's stored identity: its key, its certificate,
// and the CA it was enrolled with, which from then on is its only trust
// anchor for the master.
type Credentials struct {
	Identity Identity

	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	ca   *x509.Certificate
}

// SaveCredentials checks that certPEM is for key and issued by caPEM, then
// writes key.pem (0600), ca.pem and cert.pem into dir (created 0700), each
// atomically, cert.pem last, so an interrupted save reads as "not
// enrolled" rather than as a broken identity.
func SaveCredentials(dir string, key *ecdsa.PrivateKey, certPEM, caPEM []byte) (*Credentials, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	ca, err := parseCertPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	c, err := newCredentials(key, cert, ca)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("save credentials: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{KeyFile, keyPEM, keyMode},
		{CACertFile, encodeCertPEM(ca.Raw), certMode},
		{CertFile, encodeCertPEM(cert.Raw), certMode},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("save credentials: %w", err)
		}
	}
	return c, nil
}

// LoadCredentials reads what SaveCredentials wrote. If the daemon is not
// enrolled yet (no cert.pem) the error wraps os.ErrNotExist, so the caller
// knows to enroll. A missing key or CA next to a certificate, a certificate
// that does not match the key, or one not issued by ca.pem is a plain
// error: re-enrolling silently would hide a damaged state directory.
//
// An expired certificate still loads (the master refuses it at the
// handshake); NotAfter lets the caller say so.
func LoadCredentials(dir string) (*Credentials, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("not enrolled yet: %w", err)
		}
		return nil, fmt.Errorf("load credentials: %w", err)
	}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("incomplete credentials in %s: %s is missing", dir, name)
		}
		if err != nil {
			return nil, fmt.Errorf("load credentials: %w", err)
		}
		return b, nil
	}
	keyPEM, err := read(KeyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := read(CACertFile)
	if err != nil {
		return nil, err
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", filepath.Join(dir, CertFile), err)
	}
	key, err := parseECKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", filepath.Join(dir, KeyFile), err)
	}
	ca, err := parseCertPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", filepath.Join(dir, CACertFile), err)
	}
	c, err := newCredentials(key, cert, ca)
	if err != nil {
		return nil, fmt.Errorf("credentials in %s: %w", dir, err)
	}
	return c, nil
}

func newCredentials(key *ecdsa.PrivateKey, cert, ca *x509.Certificate) (*Credentials, error) {
	if key == nil {
		return nil, errors.New("no private key")
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return nil, fmt.Errorf("%q is not a CA certificate", ca.Subject.CommonName)
	}
	if !keyMatches(cert, key) {
		return nil, fmt.Errorf("certificate %q does not match the private key", cert.Subject.CommonName)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("certificate %q is not issued by CA %q: %w", cert.Subject.CommonName, ca.Subject.CommonName, err)
	}
	id, err := IdentityOf(cert)
	if err != nil {
		return nil, err
	}
	return &Credentials{Identity: id, key: key, cert: cert, ca: ca}, nil
}

// CAFingerprint returns the fingerprint of the CA the daemon trusts.
func (c *Credentials) CAFingerprint() Fingerprint { return FingerprintOf(c.ca) }

// NotAfter returns when the daemon's certificate expires.
func (c *Credentials) NotAfter() time.Time { return c.cert.NotAfter }

// ClientTLS returns the mutual TLS client configuration: it presents the
// daemon's certificate and accepts the server as EnrollTLS does (a master
// certificate from the CA; host names not checked, for the same reason),
// against the stored CA.
func (c *Credentials) ClientTLS() *tls.Config {
	pin := Pin{fp: FingerprintOf(c.ca), ca: c.ca}
	cert := &tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: c.key, Leaf: c.cert}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2"},
		// Always present the certificate: with Certificates, crypto/tls
		// would silently send none if the server's acceptable CAs did not
		// list its issuer, turning a CA mismatch into an anonymous
		// connection with a confusing error later.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert, nil
		},
		// See EnrollTLS: VerifyConnection does the verification.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyMaster(cs.PeerCertificates, pin, time.Now())
		},
	}
}
