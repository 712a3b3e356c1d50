package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// The passwords of testdata/master-full.conf and the hypervisor test.
var secrets = []string{"enroll-me", "run-me", "api-secret", "hv-token", "db-secret", "ci-token-0123456789abcdef", "alice-token-0123456789abcdef"}

func checkNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, out)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	m, _, err := LoadMaster("testdata/master-full.conf")
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHypervisor()
	if err := h.Set("test_master.connection_passwd", "hv-token", "env"); err != nil {
		t.Fatal(err)
	}
	if m.Server.ConnectionPasswd.Reveal() != "enroll-me" || m.Webserver.APIToken.Reveal() != "api-secret" {
		t.Fatal("Reveal does not return the secrets")
	}
	values := map[string]any{
		"master":      m,
		"*master":     *m,
		"webserver":   m.Webserver,
		"hypervisor":  h,
		"secret":      m.Webserver.SuiteRunPass,
		"settings":    m.Settings(),
		"in a slice":  []Secret{m.Server.ConnectionPasswd},
		"in a map":    map[string]Secret{"k": m.Webserver.APIToken},
		"via pointer": &m.Webserver,
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%T %v", "%10s", "%-v"} {
			checkNoSecret(t, fmt.Sprintf("%s %s", name, verb), fmt.Sprintf(verb, v))
		}
		checkNoSecret(t, name+" Sprint", fmt.Sprint(v))
		checkNoSecret(t, name+" Sprintln", fmt.Sprintln(v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("%s: json.Marshal: %v", name, err)
		}
		checkNoSecret(t, name+" JSON", string(b))

		for hname, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var buf bytes.Buffer
			log := slog.New(newHandler(&buf))
			log.Info("config", "value", v, slog.Any("any", v), slog.Group("g", "v", v))
			log.With("cfg", v).Info("with")
			checkNoSecret(t, name+" slog "+hname, buf.String())
		}
	}

	// What is printed instead.
	s := Secret("pw")
	for _, tc := range []struct{ got, want string }{
		{fmt.Sprint(s), "[redacted]"},
		{fmt.Sprintf("%q", s), `"[redacted]"`},
		{fmt.Sprintf("%#v", s), `"[redacted]"`},
		{fmt.Sprintf("%+v", Server{Port: 1, ConnectionPasswd: "pw"}), "{IP: Port:1 ConnectionPasswd:[redacted]}"},
		{fmt.Sprint(Secret("")), ""},
		{mustJSON(t, Webserver{SuiteRunPass: "pw"}), `{"WebpageDir":"","Protocol":"","Port":0,"SuiteRunPass":"[redacted]","APIToken":"","APITokens":"","BaseURL":"","PublicPages":false}`},
		{s.LogValue().String(), "[redacted]"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, st := range m.Settings() {
		if st.Key == "server.connection_passwd" && st.Value != "[redacted]" {
			t.Errorf("Settings shows %s = %q", st.Key, st.Value)
		}
		if st.Key == "general.database" && st.Value != "postgres://xrdtest:xxxxx@/xrdtest?host=/run/postgresql" {
			t.Errorf("Settings shows %s = %q, want the URL without its password", st.Key, st.Value)
		}
	}
	if m.General.Database.Reveal() != "postgres://xrdtest:db-secret@/xrdtest?host=/run/postgresql" {
		t.Errorf("Reveal = %q", m.General.Database.Reveal())
	}
}

// TestDatabaseURLRedacted: the password of a database URL never shows,
// wherever it is in the URL.
func TestDatabaseURLRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:db-secret@h:5432/db":                              "postgres://u:xxxxx@h:5432/db",
		"postgres://u@/db?host=/run/postgresql&password=db-secret":      "postgres://u@/db?host=%2Frun%2Fpostgresql&password=xxxxx",
		"postgresql://u@h/db?sslpassword=db-secret&sslmode=verify-full": "postgresql://u@h/db?sslmode=verify-full&sslpassword=xxxxx",
		"postgres://u@/db?host=/run/postgresql":                         "postgres://u@/db?host=/run/postgresql",
		"postgres://u:db-secret@h/%zz":                                  "[redacted]", // does not parse
		"":                                                              "",
	} {
		u := DatabaseURL(in)
		if got := u.String(); got != want {
			t.Errorf("DatabaseURL(%q).String() = %q, want %q", in, got, want)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "db", u)
		for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q %x", u, u, u, u, u, u), mustJSON(t, u), buf.String()} {
			checkNoSecret(t, "database URL", out)
		}
	}
	// Errors do not quote the URL.
	for _, v := range []string{"mysql://u:db-secret@h/db", "postgres://u:db-secret@h:x/db", "postgres://u:db-secret@h/%zz"} {
		if _, err := ParseDatabaseURL(v); err == nil {
			t.Errorf("ParseDatabaseURL(%q) accepted", v)
		} else {
			checkNoSecret(t, "ParseDatabaseURL error", err.Error())
		}
		_, _, err := LoadMaster(writeConf(t, "[general]\ndatabase = "+v+"\n"))
		checkNoSecret(t, "LoadMaster error", errString(err))
	}
	for _, v := range []string{"postgres://h/db", "postgresql:///db", "postgres://u@h1:5432,h2:5433/db", "postgres://u@[::1]:5432/db", " postgres://u@/db?host=/tmp "} {
		if _, err := ParseDatabaseURL(v); err != nil {
			t.Errorf("ParseDatabaseURL(%q): %v", v, err)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Errors about secret keys do not quote their values either.
func TestSecretsNotInErrors(t *testing.T) {
	path := writeConf(t, "[server]\nconnection_passwd = enroll-me%(nosuch)s\n[webserver]\nsuite_run_pass = run-me 50%\napi_token = %(api-secret\n")
	_, _, err := LoadMaster(path)
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrInterpolation) {
		t.Errorf("%v is not ErrInterpolation", err)
	}
	checkNoSecret(t, "error", err.Error())
	if !strings.Contains(err.Error(), path+`:2: [server] connection_passwd: cannot expand "%" in this secret value`) {
		t.Errorf("error does not locate the key: %v", err)
	}
	// A password with a lone % loads as written, as in the original.
	m, _, err := LoadMaster(writeConf(t, "[webserver]\nsuite_run_pass = 50%off\n"))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "password", m.Webserver.SuiteRunPass.Reveal(), "50%off")

	// A malformed secret line is reported without its content.
	_, _, err = LoadMaster(writeConf(t, "[server]\nconnection_passwd enroll-me\n"))
	checkNoSecret(t, "syntax error", errString(err))
}

// TestNamedTokens: api_tokens parse into named tokens; a bad entry is an
// error naming its position and name, never its token.
func TestNamedTokens(t *testing.T) {
	m, _, err := LoadMaster("testdata/master-full.conf")
	if err != nil {
		t.Fatal(err)
	}
	named, err := m.Webserver.NamedTokens()
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "named tokens", named, []NamedToken{{"ci", "ci-token-0123456789abcdef"}, {"alice", "alice-token-0123456789abcdef"}})
	const tok = "secret-token-0123456789"
	for _, tc := range []struct{ value, want string }{
		{"ci " + tok, "entry 1 is not NAME:TOKEN"},
		{"ci:" + tok + ", ci:" + tok + "x", "entry 2: the name ci is given twice"},
		{"ci:" + tok + " bob:" + tok, "entry 2 (bob): its token is already another's (or api_token)"},
		{"bob:api-secret-0123456789", "entry 1 (bob): its token is already another's"},
		{"ci:short", "entry 1 (ci): a token of fewer than 16 characters"},
		{"c/i:" + tok, "entry 1: a name is letters, digits"},
		{"ci:", "entry 1 is not NAME:TOKEN"},
	} {
		path := writeConf(t, "[webserver]\napi_token = api-secret-0123456789\napi_tokens = "+tc.value+"\n")
		_, _, err := LoadMaster(path)
		if err == nil || !strings.Contains(err.Error(), path+":3: [webserver] api_tokens: "+tc.want) {
			t.Errorf("api_tokens = %s: %v, want %q", tc.value, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "0123456789") {
			t.Errorf("the error shows a token: %v", err)
		}
	}
}
