package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/throttle"
)

// APIToken is a bearer token of the JSON API. What is done with it is
// logged, and recorded in a session's "triggered by", as done by
// "token NAME"; the token itself never is.
type APIToken struct {
	// Name says whose token it is; "" is the single api_token of the
	// original configuration, named "api token".
	Name  string
	Token string
}

// Identity is how the holder appears in logs and sessions.
func (t APIToken) Identity() string {
	if t.Name == "" {
		return "api token"
	}
	return "token " + t.Name
}

// Tokens are the tokens the API takes: the unnamed one ([webserver]
// api_token, "" for none), then the named ones.
func Tokens(unnamed string, named []APIToken) []APIToken {
	var out []APIToken
	if unnamed != "" {
		out = append(out, APIToken{Token: unnamed})
	}
	for _, t := range named {
		if t.Token != "" {
			out = append(out, t)
		}
	}
	return out
}

// matchToken returns the token that presented is, comparing it with every
// token (pki.TokenEqual: hashed, constant time), so that neither which
// one matched nor the tokens' lengths show in the time taken.
func matchToken(tokens []APIToken, presented string) (APIToken, bool) {
	var found APIToken
	ok := false
	for _, t := range tokens {
		if pki.TokenEqual(presented, t.Token) && !ok {
			found, ok = t, true
		}
	}
	return found, ok
}

// Bearer checks the bearer tokens of requests. A wrong token is logged
// and counted, per client address, like a failed login (the master shares
// one limiter between them): a token, or suite_run_pass where it stands
// for one, cannot be guessed through the API faster than through the
// login page.
type Bearer struct {
	Tokens []APIToken
	// Guesses counts the failed attempts (nil: not counted).
	Guesses *throttle.Limiter
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now
}

// errBadToken answers a wrong token.
var errBadToken = withStatus(http.StatusUnauthorized, errors.New("a valid API token is required (Authorization: Bearer TOKEN)"))

// Identity returns who the request's bearer token names ("api token",
// "token NAME"); "" and no error when the request has no bearer token.
// A wrong token is an error with status 401; an address refused for too
// many wrong ones gets a *throttle.RefusedError (429), its token not even
// compared.
func (b *Bearer) Identity(r *http.Request) (string, error) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", nil
	}
	now := time.Now()
	if b.Now != nil {
		now = b.Now()
	}
	addr := throttle.Host(r.RemoteAddr)
	if b.Guesses != nil {
		if wait := b.Guesses.Refused(addr, now); wait > 0 {
			// Debug: the lockout was logged when it began; a flood of
			// guesses must not flood the log.
			b.log().Debug("api: bearer token refused: too many failed attempts", "addr", r.RemoteAddr, "path", r.URL.Path)
			return "", &throttle.RefusedError{What: "logins or API token attempts", Wait: wait}
		}
	}
	t, ok := matchToken(b.Tokens, got)
	if ok {
		return t.Identity(), nil
	}
	if b.Guesses != nil {
		if wait := b.Guesses.Failed(addr, now); wait > 0 {
			b.log().Warn("api: invalid bearer token, address refused for a while", "addr", r.RemoteAddr, "path", r.URL.Path, "refused_for", wait)
			return "", &throttle.RefusedError{What: "logins or API token attempts", Wait: wait}
		}
	}
	b.log().Warn("api: invalid bearer token", "addr", r.RemoteAddr, "path", r.URL.Path)
	return "", errBadToken
}

func (b *Bearer) log() *slog.Logger {
	if b.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Log
}

type identityKey struct{}

// identity is who authorized's token names, in a request it let through.
func identity(r *http.Request) string {
	if id, ok := r.Context().Value(identityKey{}).(string); ok {
		return id
	}
	return "api token"
}

func withIdentity(r *http.Request, id string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
}
