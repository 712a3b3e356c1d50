package master_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/slave"
)

// guessMaster serves a master whose API token is its login password, as
// when [webserver] has suite_run_pass and no api_token.
func guessMaster(t *testing.T) (*master.Master, string) {
	t.Helper()
	const pass = "run-pass-0123456789"
	m := mastertest.Start(t, master.Options{Token: token, APIToken: pass, Log: logger(), ReloadDebounce: -1,
		Pages: &master.Pages{Password: pass, Public: true}})
	return m, pass
}

// TestAPITokenGuessesThrottled: wrong bearer tokens are logged and count
// as failed logins of the client's address: after a few, the address is
// refused (429, Retry-After), the right token and the login page too.
func TestAPITokenGuessesThrottled(t *testing.T) {
	m, pass := guessMaster(t)
	base := "http://" + m.WebAddr().String()
	reload := func(tok string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/reload", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := 1; i < 5; i++ {
		if resp := reload("guess-" + string(rune('a'+i))); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %s", i, resp.Status)
		}
	}
	resp := reload("guess-z")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("5th wrong token: %s, Retry-After %q; want 429 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	if resp := reload(pass); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right token from a refused address: %s, want 429", resp.Status)
	}
	form := url.Values{"password": {pass}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("login with the password from an address refused for wrong tokens: %s, want 429", resp.Status)
	}
	if !eventually(func() bool { return strings.Count(logs.String(), "api: invalid bearer token") >= 4 }) {
		t.Errorf("wrong tokens are not logged")
	}
	if strings.Contains(logs.String(), "guess-") {
		t.Errorf("a presented token appears in the log")
	}
}

// TestEnrollGuessesThrottled: the connection token cannot be guessed
// online: after a few wrong Enroll calls the address is refused
// (ResourceExhausted), the right token too, until the lockout ends.
func TestEnrollGuessesThrottled(t *testing.T) {
	m := startMaster(t)
	conn, err := grpc.NewClient(m.DaemonAddr().String(), grpc.WithTransportCredentials(credentials.NewTLS(pki.PinFingerprint(m.CA.Fingerprint()).EnrollTLS())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	enroll := func(tok string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := protocol.NewMasterClient(conn).Enroll(ctx, &protocol.EnrollRequest{Role: "slave", Name: "guess.xrd.test", Token: tok})
		return err
	}
	for i := 1; i < 5; i++ {
		if err := enroll("guess"); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("wrong token %d: %v", i, err)
		}
	}
	for _, tok := range []string{"guess", token} {
		err := enroll(tok)
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "too many failed enrollments from your address: try again in") {
			t.Errorf("after 5 wrong tokens: %v, want ResourceExhausted", err)
		}
	}
}

// tokenClusters is a cluster provider whose clusters fail to start; it
// keeps the one-time tokens the master gave their machines.
type tokenClusters struct {
	fakeClusters
	tokens chan map[string]string
}

func (f *tokenClusters) StartCluster(ctx context.Context, spec hypervisor.ClusterSpec) error {
	f.tokens <- spec.Tokens
	return errors.New("no machines in this test")
}

// TestOneTimeTokensRevokedWithTheCluster: the unused enrollment token of
// a machine whose cluster stopped no longer enrolls anything.
func TestOneTimeTokensRevokedWithTheCluster(t *testing.T) {
	fc := &tokenClusters{tokens: make(chan map[string]string, 1)}
	m := actionsMaster(t, actionsRepo(t), fc)
	s := mastertest.StartSession(t, m, "ts")
	tokens := <-fc.tokens
	if s, _ := m.Manager.Wait(context.Background(), s.ID); !s.State.Finished() {
		t.Fatalf("session %s", s.State)
	}
	tok := tokens["h1.xrd.test"]
	if tok == "" {
		t.Fatalf("no token for h1: %v", tokens)
	}
	cfg := agentConfig(t, m, "h1.xrd.test")
	cfg.Token = tok
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := slave.New(cfg).Run(ctx); err == nil || !strings.Contains(err.Error(), "wrong connection token") {
		t.Errorf("enrolling with the token of a machine of a stopped cluster: %v, want wrong connection token", err)
	}
}
