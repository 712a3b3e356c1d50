package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/api"
)

// TestClientErrors: a refused request is an *Error with the status and
// the master's message, which is the error's text when there is one.
func TestClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error": "a valid API token is required"}`)
			return
		}
		switch r.URL.Path {
		case "/api/v1/status":
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>proxy error</html>")
		case "/api/v1/sessions/7/cancel":
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error": "session 7 is not running (it is passed)"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := api.NewClient(api.Options{URL: srv.URL + "/", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	anonymous, _ := api.NewClient(api.Options{URL: srv.URL})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		text   string
	}{
		{"message", func() error { _, err := c.Cancel(ctx, 7, "me"); return err }, http.StatusConflict, "session 7 is not running (it is passed)"},
		{"no message", func() error { _, err := c.Status(ctx); return err }, http.StatusBadGateway, "GET /api/v1/status: 502 Bad Gateway"},
		{"no token", func() error { _, err := anonymous.Daemons(ctx); return err }, http.StatusUnauthorized, "a valid API token is required"},
		{"not found", func() error { _, err := c.Output(ctx, 1, 0, "s", true); return err }, http.StatusNotFound, "GET /api/v1/sessions/1/output?follow=1&slave=s&stage=0: 404 Not Found"},
	} {
		err := tc.call()
		var e *api.Error
		if !errors.As(err, &e) || e.StatusCode != tc.status || err.Error() != tc.text {
			t.Errorf("%s: %#v (%v), want status %d and %q", tc.name, err, err, tc.status, tc.text)
		}
		if api.IsNotFound(err) != (tc.status == http.StatusNotFound) {
			t.Errorf("%s: IsNotFound %v", tc.name, api.IsNotFound(err))
		}
	}

	srv.Close()
	if _, err := c.Daemons(ctx); err == nil || !strings.HasPrefix(err.Error(), "cannot reach the master at "+srv.URL+": ") {
		t.Errorf("master down: %v", err)
	}
}

// TestClientCAFile: a CA file that cannot be read or holds no
// certificate is refused at once.
func TestClientCAFile(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o644)
	for _, tc := range []struct{ file, want string }{
		{filepath.Join(dir, "none.pem"), "no such file"},
		{junk, junk + ": no PEM certificate in it"},
	} {
		if _, err := api.NewClient(api.Options{URL: "https://x", CAFile: tc.file}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.file, err, tc.want)
		}
	}
}
