package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/daemons"

	"github.com/xrdtest/xrdtest/internal/pki"
)

// TestCredentials serves what the original master's web port gave the
// suites' scripts for testing authentication in the software under test:
// /getTrustedCACertificate (the CA), /getSignedCertificate (a host
// certificate signed from a request: slave_name and csr, a form file or
// field) and /getSSSKeytable (an XRootD SSS keytable, made once with
// xrdsssadmin).
//
// The CA is the suites' own ([security] ca_certfile and ca_keyfile, or one
// created in the state folder), never the daemons': a certificate made
// for a test server must not open the daemon port. Signing and the keytab
// are for the machines under test: a connected slave or hypervisor (by
// its address), or a holder of an API token.
type TestCredentials struct {
	ca       *pki.CA
	keytab   string // where the SSS keytable is kept
	sssadmin string // xrdsssadmin ("" : from PATH)
	allowed  func(*http.Request) bool
	log      *slog.Logger

	mu sync.Mutex // one keytable creation at a time
}

// OpenTestCredentials serves the suites' test credentials with the CA of
// certFile and keyFile, or without them the one in dir (created at the
// first start, the SSS keytable beside it). allowed says who may sign and
// fetch the keytable.
func OpenTestCredentials(certFile, keyFile, dir string, allowed func(*http.Request) bool, log *slog.Logger) (*TestCredentials, error) {
	var ca *pki.CA
	var err error
	if certFile != "" {
		ca, err = pki.LoadCA(certFile, keyFile)
	} else {
		ca, _, err = pki.LoadOrCreateCA(dir)
	}
	if err != nil {
		return nil, err
	}
	return &TestCredentials{ca: ca, keytab: filepath.Join(dir, "sss.keytab"), allowed: allowed, log: log}, nil
}

func (tc *TestCredentials) caCert(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(tc.ca.CertPEM())
}

func (tc *TestCredentials) sign(w http.ResponseWriter, r *http.Request) {
	if !tc.allowed(r) {
		tc.refuse(w, r, "sign a certificate")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	name, csr := r.FormValue("slave_name"), formFile(r, "csr")
	if name == "" || len(csr) == 0 {
		http.Error(w, "give slave_name and csr (a PEM certificate request, as a form file or field)", http.StatusBadRequest)
		return
	}
	cert, err := tc.ca.SignForTests(csr)
	if err != nil {
		http.Error(w, "cannot sign the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	tc.log.Info("test certificate signed", "slave", name, "from", r.RemoteAddr)
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(cert)
}

// formFile reads a form value sent as a file (curl -F csr=@req.pem) or as
// a field (curl -F csr="$(cat req.pem)", or urlencoded). The form was
// parsed by FormValue already; a body past the limit leaves it empty.
func formFile(r *http.Request, name string) []byte {
	if f, _, err := r.FormFile(name); err == nil {
		defer f.Close()
		b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
		return b
	}
	return []byte(r.FormValue(name))
}

func (tc *TestCredentials) sssKeytable(w http.ResponseWriter, r *http.Request) {
	if !tc.allowed(r) {
		tc.refuse(w, r, "read the SSS keytable")
		return
	}
	b, err := tc.keytabBytes(r)
	if err != nil {
		tc.log.Error("SSS keytable", "err", err)
		http.Error(w, err.Error(), http.StatusNotImplemented)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

// keytabBytes returns the keytable, made at the first request with
// xrdsssadmin as the original did (user anybody, group usrgroup, key
// xrootdfs_key), kept in the state folder so every session shares it.
func (tc *TestCredentials) keytabBytes(r *http.Request) ([]byte, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if b, err := os.ReadFile(tc.keytab); err == nil {
		return b, nil
	}
	bin := tc.sssadmin
	if bin == "" {
		p, err := exec.LookPath("xrdsssadmin")
		if err != nil {
			return nil, errors.New("no SSS keytable: xrdsssadmin (from the XRootD client package) is not installed on the master")
		}
		bin = p
	}
	if err := os.MkdirAll(filepath.Dir(tc.keytab), 0o700); err != nil {
		return nil, err
	}
	tmp := tc.keytab + ".new"
	os.Remove(tmp)
	cmd := exec.CommandContext(r.Context(), bin, "-u", "anybody", "-g", "usrgroup", "-k", "xrootdfs_key", "add", tmp)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("no SSS keytable: xrdsssadmin: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, tc.keytab); err != nil {
		return nil, err
	}
	tc.log.Info("SSS keytable created", "path", tc.keytab)
	return os.ReadFile(tc.keytab)
}

func (tc *TestCredentials) refuse(w http.ResponseWriter, r *http.Request, what string) {
	tc.log.Warn("test credentials refused", "what", what, "from", r.RemoteAddr)
	http.Error(w, "only a connected slave or hypervisor, or a holder of an API token, may "+what, http.StatusForbidden)
}

// DaemonOrToken allows the requests from a connected daemon's address
// and those with a valid bearer token (the test credentials' check).
func DaemonOrToken(reg *daemons.Registry, bearer *Bearer) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if id, err := bearer.Identity(r); err == nil && id != "" {
			return true
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return false
		}
		for _, d := range reg.Daemons() {
			if h, _, err := net.SplitHostPort(d.Address); err == nil && h == host && d.State == api.DaemonConnected {
				return true
			}
		}
		return false
	}
}
