package syncsock

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	s, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Request, 1)
	go s.Serve(ctx, func(_ context.Context, r Request) string {
		got <- r
		if r.Name == "bad" {
			return "barrier bad can never complete"
		}
		return ""
	})
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	if err := Call(ctx, "wait", "go", 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.Op != "wait" || r.Name != "go" || r.Count != 3 || r.TimeoutMs != 60000 {
		t.Errorf("request %+v", r)
	}
	if err := Call(ctx, "barrier", "bad", 0, time.Minute); err == nil || err.Error() != "barrier bad can never complete" {
		t.Errorf("error %v", err)
	}
	<-got
	t.Setenv(EnvToken, "wrong")
	if err := Call(ctx, "signal", "x", 0, time.Minute); err == nil || !strings.Contains(err.Error(), "wrong sync token") {
		t.Errorf("wrong token: %v", err)
	}
	t.Setenv(EnvSocket, "")
	if err := Call(ctx, "signal", "x", 0, time.Minute); err != ErrNotInStage {
		t.Errorf("outside a stage: %v", err)
	}
}
