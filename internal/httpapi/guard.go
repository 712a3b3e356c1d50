package httpapi

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
)

// addressGated are the paths that the client's address alone may open
// (a connected daemon's; see DaemonOrToken).
var addressGated = []string{"/getTrustedCACertificate", "/getSignedCertificate", "/getSSSKeytable"}

// hostAllowed reports whether host (a Host header) names this master:
// an IP address, localhost, or one of names. A page of another site
// whose name was made to resolve to the master (DNS rebinding) sends its
// own name.
func hostAllowed(host string, names []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" || net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		return true
	}
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, host) })
}

// guard is what the whole web port checks before routing: the Host of
// the requests that change state or that an address opens (when no token
// authorizes them: a login's cookie, the client's address), HSTS under
// HTTPS, and 405 for a known path asked with the wrong method.
func (s *Site) guard(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		// A bearer token is no ambient authority: a rebound page does not
		// know it, so a client with one (xrdtest through a DNS alias) may
		// use any name.
		// A WebSocket (a shell) acts, though asked with GET.
		safe := (r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions) && r.Header.Get("Upgrade") == ""
		ambient := r.Header.Get("Authorization") == ""
		if ambient && (!safe || slices.Contains(addressGated, r.URL.Path)) && !hostAllowed(r.Host, s.Hosts) {
			s.log().Warn("web: request refused: Host is not a name of this master", "host", r.Host, "method", r.Method, "path", r.URL.Path, "addr", r.RemoteAddr)
			refuse(w, r, http.StatusMisdirectedRequest, fmt.Errorf("refused: %q is not a name of this master (DNS rebinding protection; "+
				"set [webserver] base_url to the name you use)", r.Host))
			return
		}
		if allow := otherMethods(mux, r); allow != nil {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			refuse(w, r, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// catchAll are the patterns that answer the paths no route has.
var catchAll = []string{"/", "/api/"}

// otherMethods returns the methods a route has for r's path when r's own
// method falls to a catch-all route (nil: r is routed, or no method is).
func otherMethods(mux *http.ServeMux, r *http.Request) []string {
	if _, p := mux.Handler(r); !slices.Contains(catchAll, p) {
		return nil
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := mux.Handler(r2); !slices.Contains(catchAll, p) {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	return allow
}

// refuse answers an error: JSON under /api/, text elsewhere.
func refuse(w http.ResponseWriter, r *http.Request, code int, err error) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, withStatus(code, err))
		return
	}
	http.Error(w, err.Error(), code)
}

func (s *Site) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
