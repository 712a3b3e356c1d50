package config

import (
	"fmt"
	"slices"
	"strings"
)

// minSecretLen is the length below which a secret is called short: the
// web port and the daemon port throttle guesses, but a secret of a few
// characters falls to a patient attacker, or offline from a leaked hash.
const minSecretLen = 16

// guessable are secrets found in examples and habits (the original's
// example configurations among them): the first an attacker tries.
var guessable = []string{"password", "passwd", "secret", "changeme", "admin", "root", "test", "xrdtest", "xrootd",
	"letmein", "qwerty", "123456", "12345678", "some_password", "some_passwd", "somepass", "tajne123"}

// weakSecret says why secret is easy to guess ("": it is not). It never
// quotes the secret.
func weakSecret(secret string) string {
	distinct := map[rune]bool{}
	for _, r := range secret {
		distinct[r] = true
	}
	switch {
	case slices.Contains(guessable, strings.ToLower(secret)):
		return "is trivially guessable (a common password, or an example's)"
	case len(distinct) < 5:
		return fmt.Sprintf("is trivially guessable (%d different characters)", len(distinct))
	case len(secret) < minSecretLen:
		return fmt.Sprintf("is short (%d characters)", len(secret))
	}
	return ""
}

// weakSecretWarnings warns about the master's secrets that are easy to
// guess: the enrollment token, the web password, the API tokens.
func (m *Master) weakSecretWarnings() []Warning {
	type secret struct {
		section, key, what string
		value              Secret
	}
	secrets := []secret{
		{"server", "connection_passwd", "the enrollment token", m.Server.ConnectionPasswd},
		{"webserver", "suite_run_pass", "the web password", m.Webserver.SuiteRunPass},
		{"webserver", "api_token", "the API token", m.Webserver.APIToken},
	}
	if named, err := m.Webserver.NamedTokens(); err == nil {
		for _, t := range named {
			secrets = append(secrets, secret{"webserver", "api_tokens", "the API token of " + t.Name, t.Token})
		}
	}
	var warns []Warning
	for _, s := range secrets {
		if s.value == "" {
			continue
		}
		if why := weakSecret(s.value.Reveal()); why != "" {
			warns = append(warns, Warning{Source: m.Source(s.section + "." + s.key), Section: s.section, Key: s.key,
				Msg: fmt.Sprintf("%s %s: use at least %d random characters (e.g. the output of `openssl rand -hex 16`)", s.what, why, minSecretLen)})
		}
	}
	return warns
}
