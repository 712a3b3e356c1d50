package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// DatabaseURL is a PostgreSQL connection URL, such as
// postgres://xrdtest@/xrdtest?host=/run/postgresql. It may hold a password
// (postgres://user:PASSWORD@host/db, or ?password=): every form that
// prints, marshals or logs it shows the URL with the password replaced by
// "xxxxx" (a URL that does not parse shows as "[redacted]"); Reveal
// returns the URL itself.
type DatabaseURL string

// Reveal returns the URL, password included, for the code that connects.
func (u DatabaseURL) Reveal() string { return string(u) }

// String returns the URL without its password.
func (u DatabaseURL) String() string { return redactURL(string(u)) }

// Format prints String for every verb.
func (u DatabaseURL) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q' || (verb == 'v' && f.Flag('#')):
		_, _ = io.WriteString(f, strconv.Quote(u.String()))
	default:
		_, _ = io.WriteString(f, u.String())
	}
}

// MarshalJSON returns String as a JSON string.
func (u DatabaseURL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// MarshalText returns String.
func (u DatabaseURL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// LogValue implements slog.LogValuer.
func (u DatabaseURL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// redactURL replaces the password of a connection URL, in the user
// information and in the password and sslpassword parameters, by "xxxxx".
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") || q.Has("sslpassword") {
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// ParseDatabaseURL checks a PostgreSQL connection URL: postgres:// or
// postgresql://, with a numeric port if any. Empty is valid (the SQLite
// database under state_dir). Its errors never quote the URL, which may
// hold a password.
func ParseDatabaseURL(s string) (DatabaseURL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a valid URL: want postgres://[user[:password]@][host][:port]/database[?host=/socket/dir], or empty for SQLite under state_dir")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("unsupported scheme %q: want a postgres:// or postgresql:// URL, or empty for SQLite under state_dir", u.Scheme)
	}
	for _, p := range strings.Split(u.Host, ",") { // libpq allows host1:port1,host2:port2
		if i := strings.LastIndexByte(p, ':'); i >= 0 && !strings.HasSuffix(p, "]") {
			if n, err := strconv.Atoi(p[i+1:]); err != nil || n < 1 || n > 65535 {
				return "", fmt.Errorf("invalid port in the URL: want a number 1-65535")
			}
		}
	}
	return DatabaseURL(s), nil
}

func databaseField(section, key string, p *DatabaseURL) field {
	return field{section: section, key: key, secret: true,
		set: func(v string, _ Source) error {
			u, err := ParseDatabaseURL(v)
			if err == nil {
				*p = u
			}
			return err
		},
		show: func() string { return p.String() }}
}
