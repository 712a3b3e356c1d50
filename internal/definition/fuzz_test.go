package definition

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		root := evalDefinition(rep, src, "getCluster", clusterClass, limits{maxSteps: 200_000, maxMemory: 256 << 20})
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

// FuzzBlankImports checks that blanking never moves a line.
func FuzzBlankImports(f *testing.F) {
	f.Add("from XrdTest.ClusterUtils import (Cluster,\n  Host)\nx = 1\n")
	f.Add("'''\nimport os\n'''\nfrom XrdTest import \\\n  Host\n")
	f.Fuzz(func(t *testing.T, src string) {
		out, _ := blankImports(src)
		if strings.Count(out, "\n") != strings.Count(src, "\n") {
			t.Fatalf("line count changed:\n%q\n->\n%q", src, out)
		}
	})
}
