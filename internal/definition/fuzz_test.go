package definition

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xrdtest/xrdtest/internal/definition/pyeval"
)

// FuzzLoadCluster feeds arbitrary source to the evaluator and converter:
// whatever the input, loading must end (bounded steps) with either a
// cluster or at least one error, never a panic.
func FuzzLoadCluster(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/corpus/*/clusters/*.py")
	more, _ := filepath.Glob("testdata/corpus/*/clusters/*/*.py")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(body("c.addHost(Host('a.xrd.test', '10.0.0.5'))")))
	f.Fuzz(func(t *testing.T, src []byte) {
		var ds Diagnostics
		rep := reporter{file: "clusters/cluster_t.py", out: &ds}
		root := pyeval.Evaluate(rep.file, src, "getCluster", pyeval.ClusterClass, pyeval.Limits{MaxSteps: 200_000, MaxMemory: 256 << 20}, rep)
		if root == nil {
			if len(ds.Errors()) == 0 {
				t.Fatalf("no cluster and no error for:\n%s", src)
			}
			return
		}
		cl, _ := convertCluster(rep, root, "cluster_t")
		if cl == nil && len(ds.Errors()) == 0 {
			t.Fatalf("cluster rejected without an error for:\n%s", src)
		}
		for _, d := range ds {
			if d.File != "clusters/cluster_t.py" || d.Message == "" || d.Line < 0 {
				t.Fatalf("bad diagnostic %+v", d)
			}
		}
	})
}
