package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loginCookie logs in on h and returns the login cookie and its CSRF token.
func loginCookie(t *testing.T, h *Handler, password string) (*http.Cookie, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"password": {password}, "name": {"alice"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("login: %d, cookies %v", rec.Code, cookies)
	}
	l, ok := h.user(&http.Request{Header: http.Header{"Cookie": {cookies[0].String()}}})
	if !ok {
		t.Fatal("the new login's cookie is not valid")
	}
	return cookies[0], h.csrfToken(l)
}

// act posts an action (logout) with a stolen copy of the cookie and its
// CSRF token, the way an attacker who holds them would.
func act(h *Handler, c *http.Cookie, csrf string) int {
	req := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(url.Values{csrfField: {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com")
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestLoginsRevocable: a logout ends the login, for good (a restart with
// the same key does not bring it back); a new password ends every login;
// a restart with the same password keeps the logins.
func TestLoginsRevocable(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "web-key")
	open := func(password string) *Handler {
		h, err := New(Config{Password: func() string { return password }, KeyFile: keyFile})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := open("old-password")
	kept, keptCSRF := loginCookie(t, h, "old-password")
	ended, endedCSRF := loginCookie(t, h, "old-password")
	if code := act(h, ended, endedCSRF); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code := act(h, ended, endedCSRF); code != http.StatusUnauthorized {
		t.Errorf("the cookie of a login that logged out still acts: %d", code)
	}
	restarted := open("old-password")
	if code := act(restarted, ended, endedCSRF); code != http.StatusUnauthorized {
		t.Errorf("after a restart, the cookie of a login that logged out acts again: %d", code)
	}
	if _, ok := restarted.user(&http.Request{Header: http.Header{"Cookie": {kept.String()}}}); !ok {
		t.Errorf("a restart with the same password ended a login")
	}
	changed := open("new-password")
	if code := act(changed, kept, keptCSRF); code != http.StatusUnauthorized {
		t.Errorf("after a password change and a restart, an old login still acts: %d", code)
	}
}

// TestUnreadableEndedLogins: when the list of ended logins is lost, every
// login ends (none comes back), and the master still starts.
func TestUnreadableEndedLogins(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "web-key")
	h, err := New(Config{Password: func() string { return "pw-0123456789abcdef" }, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := loginCookie(t, h, "pw-0123456789abcdef")
	if err := os.WriteFile(revocationsFile(keyFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err = New(Config{Password: func() string { return "pw-0123456789abcdef" }, KeyFile: keyFile})
	if err != nil {
		t.Fatalf("start with an unreadable list: %v", err)
	}
	if _, ok := h.user(&http.Request{Header: http.Header{"Cookie": {c.String()}}}); ok {
		t.Errorf("a login survived the loss of the list of ended logins")
	}
}

// TestTooManyEndedLogins: past the bound on ended logins to remember, the
// key is replaced: every login ends, none is let back in.
func TestTooManyEndedLogins(t *testing.T) {
	const pw = "pw-0123456789abcdef"
	h, err := New(Config{Password: func() string { return pw }, KeyFile: filepath.Join(t.TempDir(), "web-key")})
	if err != nil {
		t.Fatal(err)
	}
	h.revoked.max = 2
	var ended []*http.Cookie
	for range 3 {
		c, csrf := loginCookie(t, h, pw)
		if code := act(h, c, csrf); code != http.StatusSeeOther {
			t.Fatalf("logout: %d", code)
		}
		ended = append(ended, c)
	}
	for i, c := range ended {
		if _, ok := h.user(&http.Request{Header: http.Header{"Cookie": {c.String()}}}); ok {
			t.Errorf("ended login %d is valid again", i)
		}
	}
	if c, _ := loginCookie(t, h, pw); c == nil {
		t.Error("no login after the key change")
	}
}
