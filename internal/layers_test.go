// Package internal_test checks the layering of the packages under
// internal/: which may import which. It reads the imports of every
// non-test Go file, so a back edge fails `go test` at once, naming the
// file and the import.
package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/xrdtest/xrdtest/"

// forbidden maps a package (path under internal/, a trailing / for its
// subpackages too) to the imports it must never have: what sits above it.
var forbidden = map[string][]string{
	// The master's test fixture serves tests only; the quickstart is a
	// command's.
	"": {"internal/master/mastertest", "internal/quickstart"},
	// The leaves know nothing of the master's parts.
	// The stores implement one contract and know nothing of each other.
	"store/sqlite/":   {"internal/store/postgres"},
	"store/postgres/": {"internal/store/sqlite"},
	"store/":          {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/catalog", "internal/master", "internal/web"},
	// The evaluator of the original Python files knows nothing of the
	// model it is converted into.
	"definition/pyeval/": {"internal/"},
	// INI files know nothing of the configurations read from them.
	"config/ini/": {"internal/"},
	// What the command line shows knows the API's types only.
	"console/": {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/catalog",
		"internal/master", "internal/web", "internal/store", "internal/hypervisor", "internal/slave", "internal/definition"},
	// The client end of `xrdtest shell` knows the API's types and client
	// only, not the slave's end nor what relays it.
	"shellclient/": {"internal/slave", "internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/catalog",
		"internal/master", "internal/web", "internal/store", "internal/hypervisor", "internal/definition", "internal/config"},
	// The daemons' process plumbing knows their [daemon] section only.
	"daemonproc/": {"internal/session", "internal/daemons", "internal/daemonclient", "internal/httpapi", "internal/views", "internal/catalog",
		"internal/master", "internal/web", "internal/api", "internal/store", "internal/hypervisor", "internal/slave", "internal/definition"},
	// What `xrdtest check` prints is written from the loaded definitions
	// alone.
	"definition/checkreport/": {"internal/config", "internal/hypervisor", "internal/slave", "internal/console", "internal/quickstart",
		"net/http", "os"},
	"definition/": {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/catalog", "internal/master", "internal/web", "internal/api", "internal/store"},
	"pki/":        {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/catalog", "internal/master", "internal/web", "internal/api", "internal/store"},
	"protocol/":   {"internal/"},
	"hypervisor/": {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/catalog", "internal/master", "internal/web", "internal/api", "internal/store"},
	"proctree/":   {"internal/"},
	// A netns host's first process and running on a thread in another
	// network namespace stand alone; starting a slave's scripts inside
	// its host needs only the latter.
	"hypervisor/netns/holder/": {"internal/"},
	"netnsthread/":             {"internal/"},
	"slave/inhost/":            {"internal/hypervisor", "internal/session", "internal/daemons", "internal/store", "internal/slave/runner", "internal/proctree"},
	"cron/":                    {"internal/"},
	// The libvirt backend's XML and names know the contract (the spec),
	// not the backend that uses them, another backend, nor libvirtd.
	"hypervisor/libvirt/lvxml/": {"internal/hypervisor/", "internal/quickstart", "internal/faults", "internal/junit", "internal/scheduler",
		"internal/slave", "internal/daemonproc", "internal/proctree", "github.com/digitalocean/go-libvirt", "net/http"},
	// What makes two failures the same knows nothing of the history.
	"triage/": {"internal/"},
	// The JUnit document is written from the history alone.
	"junit/": {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/catalog", "internal/master", "internal/web",
		"net/http"},
	// The session engine depends on small interfaces, not on transports.
	"session/": {"internal/daemons", "internal/httpapi", "internal/views", "internal/web", "internal/master", "internal/catalog", "internal/api",
		"internal/protocol", "google.golang.org/grpc", "net/http"},
	// The faults know the backends' contract and the definitions, not
	// the sessions that open their scopes nor the transports.
	"faults/": {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/web", "internal/master", "internal/catalog", "internal/api",
		"internal/protocol", "internal/store", "google.golang.org/grpc", "net/http"},
	"daemons/": {"internal/httpapi", "internal/views", "internal/web", "internal/master", "internal/catalog"},
	"catalog/": {"internal/session", "internal/daemons", "internal/httpapi", "internal/views", "internal/web", "internal/master"},
	"views/":   {"internal/httpapi", "internal/web", "internal/master"},
	// The API does not know the pages; the pages do not know the wiring.
	"httpapi/": {"internal/web", "internal/master"},
	"web/":     {"internal/master"},
	// The wire types and client stand alone, the standard library only:
	// the store, the views and the CLI all use them.
	"api/": {"internal/", "google.golang.org/", "github.com/"},
}

func TestLayers(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path)) + "/"
		var rules []string
		for prefix, r := range forbidden {
			if strings.HasPrefix(pkg, prefix) {
				rules = append(rules, r...)
			}
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rel := strings.TrimPrefix(p, module)
			own := "internal/" + pkg
			if slices.ContainsFunc(rules, func(r string) bool { return matches(rel, r) }) && !matches(rel+"/", own) {
				t.Errorf("internal/%s imports %s: a back edge in the layering (see %s's rules in this test)", path, p, pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked: the walk missed the tree", checked)
	}
}

// matches tells whether the import path rel falls under rule r: r itself
// and its subpackages, or with a trailing / everything under it.
func matches(rel, r string) bool {
	if strings.HasSuffix(r, "/") {
		return strings.HasPrefix(rel, r)
	}
	return rel == r || strings.HasPrefix(rel, r+"/")
}
