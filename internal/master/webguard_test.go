package master_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
)

// TestWebPortGuards: requests that change state or that an address opens
// must name this master in Host (DNS rebinding); a known path with the
// wrong method is 405; a negative stage is 400.
func TestWebPortGuards(t *testing.T) {
	m := actionsMaster(t, actionsRepo(t), nil)
	base := "http://" + m.WebAddr().String()
	do := func(method, path, host string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, tc := range []struct {
		method, path, host string
		code               int
		allow              string
	}{
		// A rebound name: refused where it matters.
		{"POST", "/api/v1/reload", "attacker.example:8080", http.StatusMisdirectedRequest, ""},
		{"GET", "/getTrustedCACertificate", "attacker.example", http.StatusMisdirectedRequest, ""},
		{"POST", "/api/v1/reload", "localhost", http.StatusOK, ""},
		{"POST", "/api/v1/reload", "", http.StatusOK, ""},
		{"GET", "/api/v1/status", "attacker.example", http.StatusOK, ""}, // reads are as public as they are
		// Wrong methods.
		{"DELETE", "/api/v1/sessions", "", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"GET", "/api/v1/reload", "", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/api/v1/nothing", "", http.StatusNotFound, ""},
		{"GET", "/api/v1/sessions/1/output?stage=-1&slave=h1.xrd.test", "", http.StatusBadRequest, ""},
	} {
		resp, body := do(tc.method, tc.path, tc.host)
		if resp.StatusCode != tc.code || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s (Host %q): %s, Allow %q; want %d, Allow %q\n%s", tc.method, tc.path, tc.host, resp.Status, resp.Header.Get("Allow"), tc.code, tc.allow, body)
		}
	}
}

// TestHSTS: under HTTPS every answer tells browsers to keep to HTTPS.
func TestHSTS(t *testing.T) {
	m, err := master.Open(context.Background(), master.Options{
		StateDir: t.TempDir(), DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0", Token: token, WebTLS: true,
		Log: logger(), Version: "test", ReloadDebounce: -1, Repos: []definition.Repo{{Root: actionsRepo(t)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(serve(t, m))
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
