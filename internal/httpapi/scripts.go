package httpapi

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/xrdtest/xrdtest/internal/definition"
)

// scriptServer serves files of the definition repositories, as the
// original master did for the slaves' scripts: /downloadScript/<path> as
// an attachment, /showScript/<path> for reading in a browser; <path> is
// relative to a repository's root, the repositories are searched in order.
// /showScript looks first under [webserver] webpage_dir, where the
// original served it from (its utils/get_xrd_latest.py and the like).
// Reads are public like the read-only API. Nothing outside a repository
// is served (os.Root: no "..", no symlink leading out), nor anything under
// a .git folder (remote URLs may hold credentials).
type scriptServer struct {
	repos   []definition.Repo
	webroot string // webpage_dir, for /showScript ("": none)
	log     *slog.Logger
}

// scriptError is a refusal with its HTTP status.
type scriptError struct {
	code int
	msg  string
}

func (e *scriptError) Error() string { return e.msg }

func (s *scriptServer) serve(w http.ResponseWriter, r *http.Request, rel string, download bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "scripts are read with GET", http.StatusMethodNotAllowed)
		return
	}
	f, name, err := s.open(rel, !download)
	if err != nil {
		var se *scriptError
		if !errors.As(err, &se) {
			s.log.Error("cannot serve a script", "path", rel, "err", err)
			se = &scriptError{http.StatusInternalServerError, "cannot read " + strconv.Quote(rel)}
		} else if se.code == http.StatusForbidden {
			s.log.Warn("script request refused", "path", rel, "from", r.RemoteAddr, "why", se.msg)
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.Error(w, se.msg, se.code)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read "+strconv.Quote(rel), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	// Plain text whatever the name: a repository file is never rendered
	// as HTML (nosniff) nor allowed to run anything (CSP sandbox).
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	disp := "inline"
	if download {
		disp = "attachment"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": path.Base(name)}))
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// open finds rel in the first repository that has it (after webpage_dir
// when inWebroot).
func (s *scriptServer) open(rel string, inWebroot bool) (*os.File, string, error) {
	rel = strings.TrimLeft(rel, "/") // /downloadScript//suite/x.sh
	if rel == "" {
		return nil, "", &scriptError{http.StatusNotFound, "give a file's path in the definition repositories, e.g. /downloadScript/test-suites/SUITE/init.sh"}
	}
	if strings.ContainsRune(rel, 0) {
		return nil, "", &scriptError{http.StatusBadRequest, "a NUL byte in the path"}
	}
	for _, part := range strings.Split(rel, "/") {
		switch part {
		case "..":
			return nil, "", &scriptError{http.StatusForbidden, fmt.Sprintf("refused: %q leaves the definition repositories", rel)}
		case ".git":
			return nil, "", &scriptError{http.StatusForbidden, fmt.Sprintf("refused: %q is in a .git folder, which is not served", rel)}
		}
	}
	rel = path.Clean(rel)
	roots := make([]string, 0, len(s.repos)+1)
	if inWebroot && s.webroot != "" {
		roots = append(roots, s.webroot)
	}
	for _, repo := range s.repos {
		roots = append(roots, repo.Root)
	}
	for _, root := range roots {
		f, err := openInRepo(root, rel)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return f, rel, nil
	}
	return nil, "", &scriptError{http.StatusNotFound, fmt.Sprintf("no file %q in the definition repositories", rel)}
}

// openInRepo opens the regular file rel under dir without leaving dir.
func openInRepo(dir, rel string) (*os.File, error) {
	// Absolute, as the path of the opened file read back from /proc is:
	// a relative dir (quickstart --defs examples) is compared with it.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// O_NONBLOCK: a FIFO in the repository does not hang the request.
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, err
		}
		// Escaping symlinks, absolute symlinks, loops, permissions.
		return nil, &scriptError{http.StatusForbidden, fmt.Sprintf("refused: %q cannot be read inside its repository (a link out of it?)", rel)}
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		f.Close()
		if st.IsDir() {
			return nil, &scriptError{http.StatusNotFound, fmt.Sprintf("%q is a folder, not a file", rel)}
		}
		return nil, &scriptError{http.StatusForbidden, fmt.Sprintf("refused: %q is not a regular file", rel)}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	// A symlink may stay inside the repository and still lead into .git:
	// check where the opened file really is.
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil { // no /proc: resolve the name instead
		real, err = filepath.EvalSymlinks(filepath.Join(dir, rel))
	}
	realDir, derr := filepath.EvalSymlinks(dir)
	inside, rerr := filepath.Rel(realDir, real)
	if err != nil || derr != nil || rerr != nil || inside == ".." || strings.HasPrefix(inside, "../") || inGit(inside) {
		f.Close()
		return nil, &scriptError{http.StatusForbidden, fmt.Sprintf("refused: %q leads into a .git folder or out of its repository", rel)}
	}
	return f, nil
}

func inGit(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == ".git" {
			return true
		}
	}
	return false
}
