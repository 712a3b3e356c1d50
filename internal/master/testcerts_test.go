package master_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestTestCredentials: the original's /getTrustedCACertificate,
// /getSignedCertificate and /getSSSKeytable, with the suites' own CA
// (never the daemons'), for connected daemons and API token holders only;
// and /showScript from webpage_dir first.
func TestTestCredentials(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	// A stand-in for XRootD's xrdsssadmin: writes a keytable, counts runs.
	os.WriteFile(filepath.Join(bin, "xrdsssadmin"), []byte("#!/bin/sh\necho run >> "+filepath.Join(dir, "runs")+
		"\nfor a; do last=$a; done\nprintf '0 u:anybody g:usrgroup n:xrootdfs_key N:1 k:00ff\\n' > \"$last\"\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	webroot := filepath.Join(dir, "webpage")
	os.MkdirAll(filepath.Join(webroot, "utils"), 0o755)
	os.WriteFile(filepath.Join(webroot, "utils", "get_xrd_latest.py"), []byte("print('latest')\n"), 0o644)

	m := mastertest.Start(t, master.Options{StateDir: filepath.Join(dir, "state"), Token: token, APIToken: apiToken,
		Log: logger(), Repos: []definition.Repo{{Root: actionsRepo(t)}}, ReloadDebounce: -1, WebpageDir: webroot})
	base := "http://" + m.WebAddr().String()
	do := func(req *http.Request) (int, []byte) {
		t.Helper()
		resp, b := testutil.Do(t, req)
		return resp.StatusCode, b
	}
	get := func(path, tok string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return do(req)
	}

	code, caPEM := get("/getTrustedCACertificate", "")
	block, _ := pem.Decode(caPEM)
	if code != 200 || block == nil {
		t.Fatalf("CA: %d %q", code, caPEM)
	}
	testCA, _ := x509.ParseCertificate(block.Bytes)
	if testCA == nil || testCA.Equal(m.CA.Certificate()) {
		t.Fatal("the suites' CA is missing or is the daemons' CA")
	}

	// A request for a host certificate, as a form file (curl -F csr=@req.pem).
	key, _ := pki.NewKey()
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "srv1.xrd.test"}, DNSNames: []string{"srv1.xrd.test"}}, key)
	signReq := func(tok string) *http.Request {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("slave_name", "srv1.xrd.test")
		fw, _ := mw.CreateFormFile("csr", "req.pem")
		fw.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, base+"/getSignedCertificate", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return req
	}
	if code, body := do(signReq("")); code != http.StatusForbidden || !strings.Contains(string(body), "only a connected slave or hypervisor") {
		t.Errorf("signing for nobody: %d %s", code, body)
	}
	if code, _ := get("/getSSSKeytable", ""); code != http.StatusForbidden {
		t.Errorf("keytable for nobody: %d", code)
	}
	code, certPEM := do(signReq(apiToken))
	block, _ = pem.Decode(certPEM)
	if code != 200 || block == nil {
		t.Fatalf("signing with the token: %d %s", code, certPEM)
	}
	cert, _ := x509.ParseCertificate(block.Bytes)
	roots := x509.NewCertPool()
	roots.AddCert(testCA)
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "srv1.xrd.test", Roots: roots}); err != nil {
		t.Errorf("signed certificate: %v", err)
	}

	// A connected slave's address needs no token.
	defer runAgents(t, m, "h1.xrd.test")()
	waitConnected(t, m, "h1.xrd.test")
	if code, body := do(signReq("")); code != 200 {
		t.Errorf("signing for a connected slave's address: %d %s", code, body)
	}
	for range 2 {
		if code, body := get("/getSSSKeytable", ""); code != 200 || !strings.Contains(string(body), "n:xrootdfs_key") {
			t.Errorf("keytable: %d %q", code, body)
		}
	}
	if runs, _ := os.ReadFile(filepath.Join(dir, "runs")); strings.Count(string(runs), "run") != 1 {
		t.Errorf("xrdsssadmin ran %d times, want once", strings.Count(string(runs), "run"))
	}

	// /showScript: webpage_dir first, then the repositories.
	if code, body := get("/showScript/utils/get_xrd_latest.py", ""); code != 200 || string(body) != "print('latest')\n" {
		t.Errorf("showScript from webpage_dir: %d %q", code, body)
	}
	if code, _ := get("/showScript/test-suites/ts/tc/a/run.sh", ""); code != 200 {
		t.Errorf("showScript from a repository: %d", code)
	}
	if code, _ := get("/downloadScript/utils/get_xrd_latest.py", ""); code != http.StatusNotFound {
		t.Errorf("downloadScript serves webpage_dir: %d", code)
	}
}

// TestSSSKeytableWithoutXrdsssadmin: a master without XRootD's tools says
// why there is no keytable.
func TestSSSKeytableWithoutXrdsssadmin(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	m := actionsMaster(t, actionsRepo(t), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.WebAddr().String()+"/getSSSKeytable", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, b := testutil.Do(t, req)
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(b), "xrdsssadmin (from the XRootD client package) is not installed") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}
