package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// Role is what a certificate holder is allowed to be. The gRPC layer
// authorizes calls by role, so a role is only ever taken from a verified
// certificate, never from what a peer says about itself.
type Role string

const (
	// RoleMaster is held by the master alone; daemons trust a server only
	// if its certificate has this role, which is why Issue refuses it.
	RoleMaster Role = "master"
	// RoleSlave runs test stages.
	RoleSlave Role = "slave"
	// RoleHypervisor runs the virtual machines that host slaves.
	RoleHypervisor Role = "hypervisor"
	// RoleClient is for CLI and API users.
	RoleClient Role = "client"
)

// Valid reports whether r is one of the roles above, so that a typo in a
// token or a forged certificate cannot introduce a role nothing checks for.
func (r Role) Valid() bool {
	switch r {
	case RoleMaster, RoleSlave, RoleHypervisor, RoleClient:
		return true
	}
	return false
}

// Identity is who a certificate names. It is encoded in the certificate as
// the URI SAN "xrdtest://<role>/<name>" (machine readable, unambiguous) and
// the subject CN is the name, for humans reading openssl output.
type Identity struct {
	Role Role
	Name string
}

// uriScheme is the scheme of the identity URI SAN.
const uriScheme = "xrdtest"

// String returns "role/name", for logs.
func (id Identity) String() string { return string(id.Role) + "/" + id.Name }

// nameRE admits RFC 1123 host names and the looser names XrdTest used
// (underscores, leading digits or hyphens): letters, digits, '_', '.', '-'.
// Names end up in URIs, file names and log lines, so nothing else is
// allowed.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// maxNameLen is the longest DNS name.
const maxNameLen = 253

// Validate checks that id has a known role and a well-formed name.
func (id Identity) Validate() error {
	if !id.Role.Valid() {
		return fmt.Errorf("unknown role %q (want master, slave, hypervisor or client)", id.Role)
	}
	return validateName(id.Name)
}

func validateName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > maxNameLen:
		return fmt.Errorf("name %.20q... is longer than %d bytes", name, maxNameLen)
	case !nameRE.MatchString(name):
		return fmt.Errorf("invalid name %q: only letters, digits, '_', '.' and '-' are allowed", name)
	case name == "." || name == "..":
		// Would be a path component with a meaning if used as a file name.
		return fmt.Errorf("invalid name %q", name)
	}
	return nil
}

// uri returns the URI SAN encoding id.
func (id Identity) uri() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: string(id.Role), Path: "/" + id.Name}
}

// IdentityOf reads the identity from cert's URI SAN. It does not verify
// cert: callers must only trust the result for a verified certificate.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, errors.New("no certificate")
	}
	var found []*url.URL
	for _, u := range cert.URIs {
		if u.Scheme == uriScheme {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return Identity{}, fmt.Errorf("certificate %q has no %s:// identity", cert.Subject.CommonName, uriScheme)
	case 1:
	default:
		// Two identities would let whoever reads the first one disagree
		// with whoever reads the last one.
		return Identity{}, fmt.Errorf("certificate %q has %d %s:// identities", cert.Subject.CommonName, len(found), uriScheme)
	}
	u := found[0]
	if u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.RawPath != "" ||
		len(u.Path) < 2 || u.Path[0] != '/' {
		return Identity{}, fmt.Errorf("malformed identity %q", u)
	}
	id := Identity{Role: Role(u.Host), Name: u.Path[1:]}
	if err := id.Validate(); err != nil {
		return Identity{}, fmt.Errorf("identity %q: %w", u, err)
	}
	return id, nil
}

// ErrNoClientCertificate is returned by PeerIdentity when the peer did not
// present a certificate: the one case (enrollment) the gRPC layer allows.
var ErrNoClientCertificate = errors.New("no client certificate")

// PeerIdentity returns the identity of the client of a server-side TLS
// connection. It uses only the chain the TLS stack verified against the CA,
// so a certificate the server did not verify is never trusted.
func PeerIdentity(cs tls.ConnectionState) (Identity, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		if len(cs.PeerCertificates) == 0 {
			return Identity{}, ErrNoClientCertificate
		}
		return Identity{}, errors.New("client certificate was not verified")
	}
	return IdentityOf(cs.VerifiedChains[0][0])
}
