package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ClusterDef is a cluster definition in the original format, for tests:
// ClusterHead, then the hosts given by FQDN at subnet.11, .12...
func ClusterDef(name, subnet, image, ram string, hosts ...string) string {
	var hs []string
	for i, h := range hosts {
		hs = append(hs, fmt.Sprintf("Host('%s', '%s.%d')", h, subnet, 11+i))
	}
	return ClusterHead(name, subnet, image, ram) + "    c.addHosts([" + strings.Join(hs, ", ") + "])\n    return c\n"
}

// ClusterHead is the start of a cluster definition in the original
// format, for tests to add hosts to and `return c`: cluster name on the
// network subnet.1/24 ("10.99.0": 10.99.0.1, DHCP .100-.200), every host
// with bootImage image and ramSize ram (Python, as written: 1024 or
// '1024'). It starts with an empty line.
func ClusterHead(name, subnet, image, ram string) string {
	return fmt.Sprintf(`
def getCluster():
    c = Cluster('%s')
    c.defaultHost.bootImage = '%s'
    c.defaultHost.arch = 'x86_64'
    c.defaultHost.ramSize = %s
    c.network.ip = '%s.1'
    c.network.netmask = '255.255.255.0'
    c.network.DHCPRange = ('%s.100', '%s.200')
`, name, image, ram, subnet, subnet, subnet)
}

// WriteFiles writes files (path relative to root, slash-separated ->
// content) under root, making the folders.
func WriteFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
