package syncsock

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRoundTrip: calls reach the handler of their stage through an
// abstract socket and through a file socket, which is gone when the
// slave stops serving, also in a folder whose path is longer than a
// socket address holds (a netns host's slave folder deep in a state
// folder); a stage that has ended, or a wrong token, gets no answer from
// any handler.
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
	served := make(chan struct{})
	go func() { s.Serve(ctx); close(served) }()
	if dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
		if len(files) != 1 {
			t.Fatalf("socket files %v", files)
		}
		t.Cleanup(func() {
			if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
				t.Errorf("left after the slave stopped serving: %v", files)
			}
		})
		defer func() { cancel(); <-served; time.Sleep(50 * time.Millisecond) }()
	}
	// Two stages at once, each answered by its own handler.
	got := make(chan Request, 1)
	env, end := s.Stage(ctx, func(_ context.Context, r Request) Response {
		got <- r
		switch {
		case r.Name == "bad":
			return Response{Error: "barrier bad can never complete"}
		case r.Op == "fault":
			return Response{Result: "f1 " + strings.Join(r.Args, " ")}
		}
		return Response{}
	})
	other, endOther := s.Stage(ctx, func(context.Context, Request) Response { return Response{Error: "the other stage"} })
	defer endOther()
	if dir != "" && !strings.HasPrefix(env[0], EnvSocket+"="+dir+"/") {
		t.Fatalf("env %v", env)
	}
	setEnv := func(env []string) {
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
	}
	setEnv(env)
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
	setEnv(other)
	if err := Call(ctx, "signal", "x", 0, time.Minute); err == nil || err.Error() != "the other stage" {
		t.Errorf("the other stage's call: %v", err)
	}
	setEnv(env)
	end()
	if err := Call(ctx, "signal", "x", 0, time.Minute); err == nil || !strings.Contains(err.Error(), "its stage has ended") {
		t.Errorf("a call after the stage: %v", err)
	}
	// Right stage id, wrong secret.
	t.Setenv(EnvToken, strings.Split(other[1], "=")[1][:idLen]+strings.Repeat("0", 32))
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

// TestRequestBounded: a request past maxRequest is refused, not read
// into memory without end.
func TestRequestBounded(t *testing.T) {
	s, err := ListenIn("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx)
	conn, err := net.Dial("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go conn.Write(bytes.Repeat([]byte("x"), 2*maxRequest))
	answer, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(answer, "bad request") {
		t.Errorf("answer %q, %v; want a bad request", answer, err)
	}
}
