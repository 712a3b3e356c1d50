package pki

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Fingerprint is the SHA-256 of a certificate's DER encoding, the value
// `openssl x509 -fingerprint -sha256` prints. The master prints its CA's
// fingerprint so an operator can hand it to daemons as their pin.
type Fingerprint [32]byte

// FingerprintOf returns the fingerprint of cert.
func FingerprintOf(cert *x509.Certificate) Fingerprint { return sha256.Sum256(cert.Raw) }

// String returns "sha256:" and 64 lowercase hex digits: one word, so it
// survives copy and paste from a terminal into a command line or a config.
func (f Fingerprint) String() string { return "sha256:" + hex.EncodeToString(f[:]) }

// ParseFingerprint accepts what an operator is likely to paste: the
// String form "sha256:<hex>", bare hex, and hex bytes separated by colons,
// optionally with openssl's "sha256 Fingerprint=" in front; any case.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	orig := s
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '='); i >= 0 && strings.EqualFold(strings.TrimSpace(s[:i]), "sha256 fingerprint") {
		s = strings.TrimSpace(s[i+1:])
	}
	if len(s) >= 7 && strings.EqualFold(s[:7], "sha256:") {
		s = s[7:]
	}
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		if len(parts) != len(f) {
			return f, fmt.Errorf("invalid SHA-256 fingerprint %q: want %d colon-separated bytes", orig, len(f))
		}
		for _, p := range parts {
			if len(p) != 2 {
				return f, fmt.Errorf("invalid SHA-256 fingerprint %q: %q is not a hex byte", orig, p)
			}
		}
		s = strings.Join(parts, "")
	}
	if len(s) != 2*len(f) {
		return f, fmt.Errorf("invalid SHA-256 fingerprint %q: want %d hex digits", orig, 2*len(f))
	}
	if _, err := hex.Decode(f[:], []byte(s)); err != nil {
		return Fingerprint{}, fmt.Errorf("invalid SHA-256 fingerprint %q: %v", orig, err)
	}
	return f, nil
}

// Pin is what a daemon trusts before it has credentials: the master's CA,
// named by fingerprint or given as a certificate. The zero Pin trusts
// nothing.
type Pin struct {
	fp Fingerprint
	ca *x509.Certificate // nil when pinned by fingerprint only
}

// PinFingerprint pins the CA whose certificate has fingerprint f. The
// master must then send its CA certificate in its chain, which ServerTLS
// does.
func PinFingerprint(f Fingerprint) Pin { return Pin{fp: f} }

// PinFile pins the CA certificate in the PEM file at path (the master's
// ca.pem, copied out of band).
func PinFile(path string) (Pin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Pin{}, fmt.Errorf("read CA pin: %w", err)
	}
	ca, err := parseCertPEM(data)
	if err != nil {
		return Pin{}, fmt.Errorf("CA pin %s: %w", path, err)
	}
	if !ca.IsCA {
		return Pin{}, fmt.Errorf("CA pin %s: %q is not a CA certificate", path, ca.Subject.CommonName)
	}
	return Pin{fp: FingerprintOf(ca), ca: ca}, nil
}

// Fingerprint returns the pinned CA fingerprint.
func (p Pin) Fingerprint() Fingerprint { return p.fp }

// String returns the pinned fingerprint.
func (p Pin) String() string { return p.fp.String() }

// EnrollTLS returns the client configuration for enrollment: it presents
// no client certificate and accepts the server only if it shows a master
// certificate issued by the pinned CA.
//
// Host names are deliberately not checked: the CA is private to this
// xrdtest installation, it issues a RoleMaster certificate only to the
// master itself (Issue refuses that role), so "a master certificate from
// the pinned CA" already identifies the master, whatever address or name
// the daemon used to reach it (IP, alias, NAT, container name).
func (p Pin) EnrollTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2"},
		// The standard verification would check the host name against the
		// certificate; VerifyConnection below does the checks that matter
		// here, and runs on every handshake, resumed ones included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyMaster(cs.PeerCertificates, p, time.Now())
		},
	}
}

// verifyMaster checks the server's chain: its CA must be the pinned one,
// its leaf a RoleMaster certificate issued by that CA, valid at now.
func verifyMaster(chain []*x509.Certificate, p Pin, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("master presented no certificate")
	}
	leaf := chain[0]
	var root *x509.Certificate
	for _, c := range chain[1:] {
		if FingerprintOf(c) == p.fp {
			root = c
			break
		}
	}
	switch {
	case root != nil:
	case len(chain) > 1:
		return fmt.Errorf("master CA fingerprint %s does not match the pinned %s", FingerprintOf(chain[len(chain)-1]), p.fp)
	case p.ca != nil:
		// The master sent no CA but we hold the pinned certificate:
		// verifying the leaf against it decides.
		root = p.ca
	default:
		return fmt.Errorf("master sent no CA certificate (its certificate is issued by %q), so it cannot be checked against the pinned %s",
			leaf.Issuer.CommonName, p.fp)
	}
	// Reading the identity before verifying is only used to refuse, which
	// is safe, and gives a clearer error than the key usage check would.
	id, err := IdentityOf(leaf)
	if err != nil {
		return fmt.Errorf("master certificate: %w", err)
	}
	if id.Role != RoleMaster {
		return fmt.Errorf("server certificate is for %s, not a master", id)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("master certificate not valid for the pinned CA %s: %w", p.fp, err)
	}
	return nil
}
