package master_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestWebPortGuards: requests that change state or that an address opens
// must name this master in Host (DNS rebinding); a known path with the
// wrong method is 405; a negative stage is 400.
func TestWebPortGuards(t *testing.T) {
	m := actionsMaster(t, actionsRepo(t), nil)
	base := "http://" + m.WebAddr().String()
	do := func(method, path, host string, withToken bool) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if withToken {
			req.Header.Set("Authorization", "Bearer "+apiToken)
		}
		if host != "" {
			req.Host = host
		}
		resp, b := testutil.Do(t, req)
		return resp, string(b)
	}
	// A connected daemon's address opens the test credentials: the
	// rebinding attack comes from a browser on such a machine.
	cfg := agentConfig(t, m, "h1.xrd.test")
	stop, errc := mastertest.RunSlave(cfg)
	defer func() { stop(); <-errc }()
	waitConnected(t, m, "h1.xrd.test")
	for _, tc := range []struct {
		method, path, host string
		token              bool
		code               int
		allow              string
	}{
		// A rebound name: refused where no token authorizes.
		{"GET", "/getTrustedCACertificate", "attacker.example:8080", false, http.StatusMisdirectedRequest, ""},
		{"POST", "/login", "attacker.example", false, http.StatusMisdirectedRequest, ""},
		{"GET", "/getTrustedCACertificate", "127.0.0.1", false, http.StatusOK, ""},
		{"GET", "/getTrustedCACertificate", "localhost:80", false, http.StatusOK, ""},
		// A token: any name (a DNS alias of the master).
		{"POST", "/api/v1/reload", "alias.example", true, http.StatusOK, ""},
		{"GET", "/api/v1/status", "attacker.example", false, http.StatusOK, ""}, // reads are as public as they are
		// Wrong methods.
		{"DELETE", "/api/v1/sessions", "", true, http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"GET", "/api/v1/reload", "", true, http.StatusMethodNotAllowed, "POST"},
		{"GET", "/api/v1/nothing", "", true, http.StatusNotFound, ""},
		{"GET", "/api/v1/sessions/1/output?stage=-1&slave=h1.xrd.test", "", true, http.StatusBadRequest, ""},
	} {
		resp, body := do(tc.method, tc.path, tc.host, tc.token)
		if resp.StatusCode != tc.code || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s (Host %q, token %v): %s, Allow %q; want %d, Allow %q\n%s", tc.method, tc.path, tc.host, tc.token, resp.Status, resp.Header.Get("Allow"), tc.code, tc.allow, body)
		}
	}
}

// TestHSTS: under HTTPS every answer tells browsers to keep to HTTPS.
func TestHSTS(t *testing.T) {
	m := mastertest.Start(t, master.Options{Token: token, WebTLS: true, Log: logger(), ReloadDebounce: -1,
		Repos: []definition.Repo{{Root: actionsRepo(t)}}})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get("https://" + m.WebAddr().String() + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security %q", hsts)
	}
}
