package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"
)

// LoadCA loads a CA from its certificate and key (PEM) kept elsewhere
// than a state folder, e.g. [security] ca_certfile and ca_keyfile.
func LoadCA(certPath, keyPath string) (*CA, error) { return loadCA(certPath, keyPath) }

// TestCertValidity is how long a certificate of SignForTests lasts, as
// the original framework's (openssl x509 -days 365).
const TestCertValidity = 365 * 24 * time.Hour

// SignForTests signs a certificate request for the software under test
// (an XRootD server's host certificate for GSI, say): the subject and the
// DNS and IP names the request asks for, usable by servers and clients.
// Unlike Issue it names no xrdtest identity, so what it signs can never
// pass for a daemon or the master, whatever the request holds; it is
// meant for a CA of its own (the suites' CA), not the daemons'.
func (ca *CA) SignForTests(csr []byte) (certPEM []byte, err error) {
	req, err := verifiedCSR(csr)
	if err != nil {
		return nil, err
	}
	if req.Subject.CommonName == "" && len(req.DNSNames) == 0 && len(req.IPAddresses) == 0 {
		return nil, errors.New("the request names nothing: give a subject CN or DNS names")
	}
	tmpl, err := ca.leafTemplate(TestCertValidity)
	if err != nil {
		return nil, err
	}
	tmpl.Subject = pkix.Name{CommonName: req.Subject.CommonName, Organization: req.Subject.Organization, OrganizationalUnit: req.Subject.OrganizationalUnit, Country: req.Subject.Country, Locality: req.Subject.Locality, Province: req.Subject.Province}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	// No URIs: those are xrdtest identities.
	tmpl.DNSNames, tmpl.IPAddresses = req.DNSNames, req.IPAddresses
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, req.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign the request: %w", err)
	}
	return encodeCertPEM(der), nil
}
