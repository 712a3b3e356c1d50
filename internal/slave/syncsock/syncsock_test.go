package syncsock

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRoundTrip: calls reach the handler through an abstract socket
// and through a file socket, which is gone when the stage ends, also in
// a folder whose path is longer than a socket address holds (a netns
// host's slave folder deep in a state folder).
func TestRoundTrip(t *testing.T) {
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"abstract": "", "file": t.TempDir(), "long path": deep} {
		t.Run(name, func(t *testing.T) { roundTrip(t, dir) })
	}
}

func roundTrip(t *testing.T, dir string) {
	s, err := ListenIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
		if len(files) != 1 || !strings.HasPrefix(s.Env()[0], EnvSocket+"="+dir+"/") {
			t.Fatalf("socket files %v, env %v", files, s.Env())
		}
		t.Cleanup(func() {
			if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
				t.Errorf("left after the stage: %v", files)
			}
		})
		defer func() { cancel(); time.Sleep(50 * time.Millisecond) }()
	}
	got := make(chan Request, 1)
	go s.Serve(ctx, func(_ context.Context, r Request) Response {
		got <- r
		switch {
		case r.Name == "bad":
			return Response{Error: "barrier bad can never complete"}
		case r.Op == "fault":
			return Response{Result: "f1 " + strings.Join(r.Args, " ")}
		}
		return Response{}
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
	if res, err := Fault(ctx, []string{"isolate", "srv1"}); err != nil || res != "f1 isolate srv1" {
		t.Errorf("fault: %q, %v", res, err)
	}
	if r := <-got; r.Op != "fault" || len(r.Args) != 2 {
		t.Errorf("fault request %+v", r)
	}
	t.Setenv(EnvToken, "wrong")
	if err := Call(ctx, "signal", "x", 0, time.Minute); err == nil || !strings.Contains(err.Error(), "wrong sync token") {
		t.Errorf("wrong token: %v", err)
	}
	t.Setenv(EnvSocket, "")
	if err := Call(ctx, "signal", "x", 0, time.Minute); err != ErrNotInStage {
		t.Errorf("outside a stage: %v", err)
	}
}

// TestCallNoSocket: a script whose slave could not open a socket is told
// why, not that it runs outside a stage.
func TestCallNoSocket(t *testing.T) {
	t.Setenv(EnvSocket, "")
	t.Setenv(EnvError, "listen unix /x: bind: invalid argument")
	err := Call(context.Background(), "signal", "x", 0, time.Second)
	if err == nil || !strings.Contains(err.Error(), "no sync socket for this stage: listen unix /x") {
		t.Errorf("error %v", err)
	}
}
