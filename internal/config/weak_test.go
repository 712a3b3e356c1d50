package config

import (
	"strings"
	"testing"
)

// splitWeakSecrets separates the warnings about weak secrets from the
// others.
func splitWeakSecrets(warns []Warning) (weak, others []Warning) {
	for _, w := range warns {
		if strings.Contains(w.Msg, "random characters") {
			weak = append(weak, w)
		} else {
			others = append(others, w)
		}
	}
	return weak, others
}

func TestWeakSecret(t *testing.T) {
	for _, tc := range []struct {
		secret, want string
	}{
		{"password", "trivially guessable (a common password"},
		{"Tajne123", "trivially guessable (a common password"},
		{"aaaaaaaaaaaaaaaaaaaaaaaa", "trivially guessable (1 different characters)"},
		{"abababababababababab12", "trivially guessable (4 different characters)"},
		{"s3cret-token", "is short (12 characters)"},
		{"3f9c0a7e5b21d4c8", ""},
		{"correct horse battery staple", ""},
	} {
		if got := weakSecret(tc.secret); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("weakSecret(%q) = %q, want %q", tc.secret, got, tc.want)
		}
	}
}

// TestWeakSecretWarnings: config check warns about each weak secret of a
// master, by file:line, never quoting it; strong ones give no warning.
func TestWeakSecretWarnings(t *testing.T) {
	path := writeConf(t, "[server]\nconnection_passwd = changeme\n[webserver]\nsuite_run_pass = 9f86d081884c7d659a2feaa0c55ad015\n"+
		"api_token = short-tok3n\napi_tokens = ci:1111111111111111111111\n")
	_, warns, err := LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	weak, _ := splitWeakSecrets(warns)
	got := warningStrings(weak)
	want := []string{
		path + ":2: [server] connection_passwd: the enrollment token is trivially guessable",
		path + ":5: [webserver] api_token: the API token is short (11 characters)",
		path + ":6: [webserver] api_tokens: the API token of ci is trivially guessable (1 different characters)",
	}
	if len(got) != len(want) {
		t.Fatalf("warnings %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d: %q, want it to start with %q", i, got[i], want[i])
		}
		for _, secret := range []string{"changeme", "short-tok3n", "1111111111111111"} {
			if strings.Contains(got[i], secret) {
				t.Errorf("warning %d quotes a secret: %q", i, got[i])
			}
		}
	}
}
