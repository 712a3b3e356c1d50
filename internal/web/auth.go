package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/throttle"
)

const (
	cookieName = "xrdtest_login"
	csrfField  = "csrf"
	keySize    = 32
)

// login is what the signed cookie holds.
type login struct {
	Name    string `json:"n"`
	Expires int64  `json:"e"` // unix seconds
	Nonce   string `json:"x"` // per login: the CSRF token derives from it
}

// loadKey reads the cookie key from file, creating it when missing; with
// no file, a new random key.
func loadKey(file string) ([]byte, error) {
	if file == "" {
		return randomBytes(keySize)
	}
	b, err := os.ReadFile(file)
	if err == nil && len(b) == keySize {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("web login key: %w", err)
	}
	return newKey(file)
}

// newKey makes a new cookie key, saved in file when there is one.
func newKey(file string) ([]byte, error) {
	key, err := randomBytes(keySize)
	if err != nil || file == "" {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("web login key: %w", err)
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, fmt.Errorf("web login key: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return nil, fmt.Errorf("web login key: %w", err)
	}
	return key, nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// mac signs parts with the key and the password together: a new
// password ends every login, its cookie and its CSRF token, even when the
// key file survives.
func (h *Handler) mac(parts ...string) []byte {
	h.keyMu.RLock()
	m := hmac.New(sha256.New, h.key)
	h.keyMu.RUnlock()
	m.Write([]byte("password\x00" + h.cfg.Password() + "\x00"))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// cookieValue signs a login.
func (h *Handler) cookieValue(l login) string {
	payload, _ := json.Marshal(l)
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(h.mac("login", p))
}

// user returns the login of the request's cookie when it is valid.
func (h *Handler) user(r *http.Request) (login, bool) {
	if h.cfg.Password() == "" {
		return login{}, false
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return login{}, false
	}
	p, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return login{}, false
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac("login", p)) {
		return login{}, false
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return login{}, false
	}
	var l login
	if json.Unmarshal(payload, &l) != nil || l.Nonce == "" || h.cfg.Now().Unix() >= l.Expires || h.revoked.has(l.Nonce) {
		return login{}, false
	}
	return l, true
}

// csrfToken is the token the forms of a login carry.
func (h *Handler) csrfToken(l login) string {
	return b64.EncodeToString(h.mac("csrf", l.Nonce))
}

// sameOrigin checks that a POST comes from this site's pages: the Origin
// header, or without one the Referer, must name this host.
func sameOrigin(r *http.Request) error {
	src := r.Header.Get("Origin")
	what := "Origin"
	if src == "" || src == "null" {
		src, what = r.Header.Get("Referer"), "Referer"
	}
	if src == "" {
		return errors.New("the request has neither Origin nor Referer: refused (cross-site request forgery protection)")
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad %s header: refused", what)
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("%s %s is not this site (%s): refused", what, u.Scheme+"://"+u.Host, r.Host)
	}
	want := "http"
	if r.TLS != nil {
		want = "https"
	}
	if u.Scheme != want {
		return fmt.Errorf("%s scheme %s is not this site's (%s): refused", what, u.Scheme, want)
	}
	return nil
}

func tokenEqual(a, b string) bool { return pki.TokenEqual(a, b) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// safeNext keeps a redirect after login on this site: a path of this
// site, never "//host" nor what browsers read as such ("/\\host", and
// "/\t/host": they drop tabs and newlines from URLs).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, func(r rune) bool {
		return r < ' ' || r == 0x7f || r == '\\'
	}) {
		return "/"
	}
	return next
}

// cleanName makes the name a user gives at login fit for logs and pages.
func cleanName(s string) string {
	s = strings.TrimSpace(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40])
	}
	if s == "" {
		s = "anonymous"
	}
	return s
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	p := h.newPage(r, "Log in", "login", struct {
		Next  string
		Error string
	}{safeNext(r.URL.Query().Get("next")), ""})
	h.render(w, r, http.StatusOK, "login", p)
}

// login checks the password (constant time) and sets the cookie.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := sameOrigin(r); err != nil {
		h.errorPage(w, r, http.StatusForbidden, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, errors.New("bad form"))
		return
	}
	next := safeNext(r.PostFormValue("next"))
	pass := h.cfg.Password()
	show := func(code int, msg string) {
		p := h.newPage(r, "Log in", "login", struct {
			Next  string
			Error string
		}{next, msg})
		h.render(w, r, code, "login", p)
	}
	addr := throttle.Host(r.RemoteAddr)
	tooMany := func(wait time.Duration) {
		secs := (&throttle.RefusedError{Wait: wait}).Seconds()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		show(http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins from your address: try again in %d seconds.", secs))
	}
	// Refused before the password is even compared: no guess counts.
	if wait := h.guesses.Refused(addr, h.cfg.Now()); wait > 0 {
		h.cfg.Log.Warn("web: login refused: too many failed logins", "addr", r.RemoteAddr, "name", cleanName(r.PostFormValue("name")))
		tooMany(wait)
		return
	}
	fail := func(msg string) {
		h.cfg.Log.Warn("web: failed login", "addr", r.RemoteAddr, "name", cleanName(r.PostFormValue("name")))
		show(http.StatusUnauthorized, msg)
	}
	if pass == "" {
		fail("Actions are disabled on this master: set [webserver] suite_run_pass.")
		return
	}
	if !tokenEqual(r.PostFormValue("password"), pass) {
		if wait := h.guesses.Failed(addr, h.cfg.Now()); wait > 0 {
			h.cfg.Log.Warn("web: failed login, address refused for a while", "addr", r.RemoteAddr, "name", cleanName(r.PostFormValue("name")),
				"refused_for", wait)
			tooMany(wait)
			return
		}
		fail("Wrong password.")
		return
	}
	h.guesses.Succeeded(addr)
	nonce, err := randomBytes(18)
	if err != nil {
		h.errorPage(w, r, http.StatusInternalServerError, err)
		return
	}
	l := login{Name: cleanName(r.PostFormValue("name")), Expires: h.cfg.Now().Add(h.cfg.SessionTTL).Unix(), Nonce: b64.EncodeToString(nonce)}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: h.cookieValue(l), Path: "/", HttpOnly: true,
		Secure: h.cfg.Secure, SameSite: http.SameSiteStrictMode, Expires: time.Unix(l.Expires, 0)})
	h.cfg.Log.Info("web: login", "user", l.Name, "addr", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the login: the cookie is dropped by the browser and, should
// a copy of it be left elsewhere, refused by the master from now on.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, u login) {
	full, err := h.revoked.add(u.Nonce, u.Expires, h.cfg.Now())
	if err != nil {
		h.cfg.Log.Error("web: logout: cannot save the ended login (it ends at the next key change)", "err", err)
	}
	if full {
		h.rotateKey()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: h.cfg.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	h.cfg.Log.Info("web: logout", "user", u.Name, "addr", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// rotateKey replaces the cookie key, which ends every login: what is done
// when too many ended logins would have to be remembered.
func (h *Handler) rotateKey() {
	key, err := newKey(h.cfg.KeyFile)
	if err != nil {
		h.cfg.Log.Error("web: cannot save a new login key", "err", err)
		if key == nil {
			return
		}
	}
	h.keyMu.Lock()
	h.key = key
	h.keyMu.Unlock()
	h.cfg.Log.Warn("web: too many ended logins to remember: new login key, every login ended")
}

// action guards a state-changing form: same origin, a valid login, the
// login's CSRF token. Without a login the user is sent to the login page.
func (h *Handler) action(fn func(http.ResponseWriter, *http.Request, login)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := sameOrigin(r); err != nil {
			h.cfg.Log.Warn("web: action refused", "path", r.URL.Path, "addr", r.RemoteAddr, "err", err)
			h.errorPage(w, r, http.StatusForbidden, err)
			return
		}
		if h.cfg.Password() == "" {
			h.errorPage(w, r, http.StatusForbidden, errors.New("actions are disabled on this master: set [webserver] suite_run_pass"))
			return
		}
		u, ok := h.user(r)
		if !ok {
			h.errorPage(w, r, http.StatusUnauthorized, errors.New("log in first: this action needs the password"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			h.errorPage(w, r, http.StatusBadRequest, errors.New("bad form"))
			return
		}
		if !hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(h.csrfToken(u))) {
			h.cfg.Log.Warn("web: action refused: bad CSRF token", "path", r.URL.Path, "user", u.Name, "addr", r.RemoteAddr)
			h.errorPage(w, r, http.StatusForbidden, errors.New("missing or wrong form token (reload the page and try again)"))
			return
		}
		fn(w, r, u)
	}
}
