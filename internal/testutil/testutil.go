// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer collects output written from several goroutines (loggers,
// child processes) and reads it safely while they write.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ContainsInOrder fails t unless s contains every string of want, in that
// order.
func ContainsInOrder(t testing.TB, s string, want []string) {
	t.Helper()
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%q: want %q (in order)", s, w)
			return
		}
		rest = rest[i+len(w):]
	}
}

// Do sends req with the default client and returns the response, its
// body read and closed; an error fails t.
func Do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
