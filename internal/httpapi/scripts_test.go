package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// scriptRepos makes two repositories and, beside them, files they must
// not serve, with symlinks of every kind.
func scriptRepos(t *testing.T) (repo1, repo2 string) {
	t.Helper()
	dir := t.TempDir()
	repo1, repo2 = filepath.Join(dir, "repo1"), filepath.Join(dir, "repo2")
	files := map[string]string{
		"secret":                              "outside the repositories\n",
		"outdir/x":                            "outside too\n",
		"repo1/test-suites/ts/init.sh":        "#!/bin/bash\necho init from repo1\n",
		"repo1/test-suites/ts/page.html":      "<script>alert(1)</script>\n",
		"repo1/shared.sh":                     "repo1's\n",
		"repo1/.git/config":                   "[remote \"origin\"]\n\turl = https://user:password@example.org/repo\n",
		"repo1/sub/.git/HEAD":                 "ref: refs/heads/master\n",
		"repo1/.gitignore":                    "*.o\n",
		"repo2/shared.sh":                     "repo2's\n",
		"repo2/only2/run.sh":                  "echo repo2\n",
		"repo1/test-suites/ts/tc/c/run.sh":    "echo run\n",
		"repo1/test-suites/ts/odd name #1.sh": "echo odd\n",
	}
	testutil.WriteFiles(t, dir, files)
	links := map[string]string{
		"repo1/inlink.sh":     "test-suites/ts/init.sh", // inside: fine
		"repo1/escape":        "../secret",
		"repo1/escapedir":     "../outdir",
		"repo1/abslink":       filepath.Join(dir, "secret"),
		"repo1/gitlink":       ".git/config",
		"repo1/gitdir":        ".git",
		"repo1/sub/up-to-git": "../.git/config",
		"repo1/loop":          "loop",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(repo1, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo1, repo2
}

func scriptHandler(t *testing.T) (http.Handler, *testutil.SyncBuffer) {
	repo1, repo2 := scriptRepos(t)
	logs := &testutil.SyncBuffer{}
	s := &scriptServer{repos: []definition.Repo{{Root: repo1}, {Root: repo2}}, log: slog.New(slog.NewTextHandler(logs, nil))}
	rest := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "rest", http.StatusTeapot) })
	return withScripts(s, rest), logs
}

func TestScripts(t *testing.T) {
	h, logs := scriptHandler(t)
	tests := []struct {
		name   string
		target string // the request target, sent as is
		code   int
		body   string // the body, or a part of the error message
	}{
		{"download", "/downloadScript/test-suites/ts/init.sh", 200, "#!/bin/bash\necho init from repo1\n"},
		{"doubled slash", "/downloadScript//test-suites/ts/init.sh", 200, "#!/bin/bash\necho init from repo1\n"},
		{"many slashes", "/downloadScript///test-suites//ts/init.sh", 200, "#!/bin/bash\necho init from repo1\n"},
		{"dot", "/downloadScript/./test-suites/./ts/init.sh", 200, "#!/bin/bash\necho init from repo1\n"},
		{"show", "/showScript/test-suites/ts/tc/c/run.sh", 200, "echo run\n"},
		{"first repo wins", "/downloadScript/shared.sh", 200, "repo1's\n"},
		{"second repo", "/downloadScript/only2/run.sh", 200, "echo repo2\n"},
		{"escaped name", "/downloadScript/test-suites/ts/odd%20name%20%231.sh", 200, "echo odd\n"},
		{"symlink inside", "/downloadScript/inlink.sh", 200, "#!/bin/bash\necho init from repo1\n"},
		{".gitignore is no .git", "/downloadScript/.gitignore", 200, "*.o\n"},
		{"dot dot", "/downloadScript/../secret", 403, "leaves the definition repositories"},
		{"dot dot inside", "/downloadScript/test-suites/../../secret", 403, "leaves the definition repositories"},
		{"dot dot after doubled slash", "/downloadScript//../secret", 403, "leaves the definition repositories"},
		{"encoded dot dot", "/downloadScript/%2e%2e/secret", 403, "leaves the definition repositories"},
		{"encoded upper", "/showScript/test-suites/%2E%2E/%2E%2E/%2E%2E/secret", 403, "leaves the definition repositories"},
		{"encoded slash", "/downloadScript/..%2fsecret", 403, "leaves the definition repositories"},
		{"absolute path", "/downloadScript//etc/passwd", 404, `no file "etc/passwd" in the definition repositories`},
		{"absolute encoded", "/downloadScript/%2Fetc%2Fpasswd", 404, `no file "etc/passwd"`},
		{"symlink out", "/downloadScript/escape", 403, "refused"},
		{"symlink to a folder out", "/downloadScript/escapedir/x", 403, "refused"},
		{"absolute symlink", "/downloadScript/abslink", 403, "refused"},
		{"symlink loop", "/downloadScript/loop", 403, "refused"},
		{".git", "/downloadScript/.git/config", 403, "is in a .git folder"},
		{".git deeper", "/showScript/sub/.git/HEAD", 403, "is in a .git folder"},
		{".git encoded", "/downloadScript/%2egit/config", 403, "is in a .git folder"},
		{"symlink to .git file", "/downloadScript/gitlink", 403, "leads into a .git folder"},
		{"symlink to .git folder", "/downloadScript/gitdir/config", 403, "leads into a .git folder"},
		{"symlink up into .git", "/downloadScript/sub/up-to-git", 403, "leads into a .git folder"},
		{"folder", "/downloadScript/test-suites", 404, "is a folder"},
		{"root", "/downloadScript/", 404, "give a file's path"},
		{"root doubled", "/downloadScript//", 404, "give a file's path"},
		{"missing", "/downloadScript/test-suites/ts/nope.sh", 404, `no file "test-suites/ts/nope.sh"`},
		{"fifo", "/downloadScript/fifo", 403, "not a regular file"},
		{"NUL", "/downloadScript/test-suites/ts/init.sh%00.txt", 400, "NUL"},
		{"other paths", "/downloadScriptx/a", 418, "rest"},
		{"no slash", "/downloadScript", 418, "rest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://master"+tt.target, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			body := w.Body.String()
			if w.Code != tt.code {
				t.Fatalf("%s: %d %q, want %d", tt.target, w.Code, body, tt.code)
			}
			if tt.code == 200 && body != tt.body || tt.code != 200 && !strings.Contains(body, tt.body) {
				t.Errorf("%s: body %q, want %q", tt.target, body, tt.body)
			}
			if strings.Contains(body, "outside") || strings.Contains(body, "password") || strings.Contains(body, "refs/heads") {
				t.Errorf("%s: served a file it must not: %q", tt.target, body)
			}
			if ct := w.Header().Get("Content-Type"); tt.code != 418 && !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("%s: Content-Type %q", tt.target, ct)
			}
		})
	}
	if !strings.Contains(logs.String(), "script request refused") {
		t.Errorf("refusals are not logged")
	}
}

func TestScriptHeaders(t *testing.T) {
	h, _ := scriptHandler(t)
	get := func(method, target string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://master"+target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	w := get("GET", "/downloadScript/test-suites/ts/page.html")
	if ct, cd := w.Header().Get("Content-Type"), w.Header().Get("Content-Disposition"); ct != "text/plain; charset=utf-8" || cd != "attachment; filename=page.html" {
		t.Errorf("download: %q %q", ct, cd)
	}
	w = get("GET", "/showScript/test-suites/ts/page.html")
	hd := w.Header()
	if hd.Get("Content-Type") != "text/plain; charset=utf-8" || hd.Get("Content-Disposition") != "inline; filename=page.html" ||
		hd.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(hd.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("show headers: %v", hd)
	}
	if w.Body.String() != "<script>alert(1)</script>\n" {
		t.Errorf("shown as %q, want the file as is (it is plain text)", w.Body.String())
	}
	w = get("GET", "/downloadScript/test-suites/ts/odd%20name%20%231.sh")
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="odd name #1.sh"` {
		t.Errorf("quoted file name: %q", cd)
	}
	if w := get("HEAD", "/downloadScript/shared.sh"); w.Code != 200 || w.Header().Get("Content-Length") != "8" {
		t.Errorf("HEAD: %d %v", w.Code, w.Header())
	}
	if w := get("GET", "/downloadScript/shared.sh", "Range", "bytes=0-4"); w.Code != http.StatusPartialContent || w.Body.String() != "repo1" {
		t.Errorf("range: %d %q", w.Code, w.Body.String())
	}
	if w := get("POST", "/downloadScript/shared.sh"); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", w.Code)
	}
}

// TestScriptsOverTheWire sends raw request lines to a real server: neither
// the server nor a mux may clean or redirect them before the checks.
func TestScriptsOverTheWire(t *testing.T) {
	h, _ := scriptHandler(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tt := range []struct {
		target string
		code   int
	}{
		{"/downloadScript//test-suites/ts/init.sh", 200},
		{"/downloadScript/../../../../etc/passwd", 403},
		{"/downloadScript/%2e%2e/secret", 403},
		{"/showScript/escape", 403},
		{"/downloadScript/.git/config", 403},
		{"/downloadScript//etc/passwd", 404},
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: master\r\nConnection: close\r\n\r\n", tt.target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s: %d %q, want %d", tt.target, resp.StatusCode, body, tt.code)
		}
		if strings.Contains(string(body), "root:") || strings.Contains(string(body), "password") {
			t.Errorf("%s: leaked %q", tt.target, body)
		}
	}
}

// TestScriptsRelativeRepo: a repository given by a relative path
// (quickstart --defs examples) serves its files, and still refuses links
// into its .git.
func TestScriptsRelativeRepo(t *testing.T) {
	repo1, _ := scriptRepos(t)
	t.Chdir(filepath.Dir(repo1))
	s := &scriptServer{repos: []definition.Repo{{Root: "repo1"}}, log: slog.New(slog.DiscardHandler)}
	h := withScripts(s, http.NotFoundHandler())
	for target, code := range map[string]int{"/downloadScript/test-suites/ts/init.sh": 200, "/showScript//inlink.sh": 200, "/downloadScript/gitlink": 403} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://master"+target, nil))
		if w.Code != code {
			t.Errorf("%s: %d %q, want %d", target, w.Code, w.Body.String(), code)
		}
	}
}
