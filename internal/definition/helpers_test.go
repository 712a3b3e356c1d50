package definition

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/testutil"
)

// writeRepo creates a repository from file contents keyed by relative path.
func writeRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func loadRepo(t testing.TB, files map[string]string) *Set {
	t.Helper()
	return Load(context.Background(), []Repo{{Root: writeRepo(t, files)}}, Options{})
}

// clusterHeader is the preamble of a minimal valid cluster; tests append
// host lines and `return c`.
var clusterHeader = "from XrdTest.ClusterUtils import Cluster, Network, Host, Disk\n" +
	testutil.ClusterHead("cluster_t", "10.0.0", "base.img", "'1048576'")

// loadCluster loads one cluster file named cluster_t.py.
func loadCluster(t testing.TB, src string) (*Cluster, Diagnostics) {
	t.Helper()
	set := loadRepo(t, map[string]string{"clusters/cluster_t.py": src, "test-suites/.keep": ""})
	return set.Cluster("cluster_t"), set.Diagnostics
}

// body indents lines into getCluster's body after clusterHeader.
func body(lines ...string) string {
	return clusterHeader + "    " + strings.Join(lines, "\n    ") + "\n    return c\n"
}

func mustCluster(t *testing.T, src string) *Cluster {
	t.Helper()
	c, ds := loadCluster(t, src)
	if c == nil || len(ds.Errors()) > 0 {
		t.Fatalf("cluster did not load: %v\nsource:\n%s", ds, src)
	}
	return c
}

// wantDiag asserts a diagnostic of severity sev at line (0: any) whose
// message contains substr.
func wantDiag(t *testing.T, ds Diagnostics, sev Severity, line int, substr string) {
	t.Helper()
	for _, d := range ds {
		if d.Severity == sev && (line == 0 || d.Line == line) && strings.Contains(d.Message, substr) {
			return
		}
	}
	t.Errorf("no %s at line %d containing %q; got:\n%s", sev, line, substr, dump(ds))
}

func dump(ds Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func writeFileAt(root, rel, content string) error {
	full := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return os.WriteFile(full, []byte(content), 0o644)
}

func symlinkAt(root, rel, target string) error {
	full := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return os.Symlink(target, full)
}
