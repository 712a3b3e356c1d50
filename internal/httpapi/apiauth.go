package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/xrdtest/xrdtest/internal/pki"
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

// BearerIdentity returns who the request's bearer token names ("api
// token", "token NAME"), false without one of tokens.
func BearerIdentity(tokens []APIToken, r *http.Request) (string, bool) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	t, ok := matchToken(tokens, got)
	return t.Identity(), ok
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
