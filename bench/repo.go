package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// noopScript is what every benchmarked stage runs. It must not be NoOp()
// for the master (a shebang alone is not dispatched at all), and the
// simulated slaves never run it anyway.
const noopScript = "#!/bin/bash\ntrue\n"

// The layout of the benchmark suite: suite_init, init/run/finalize of each
// case, suite_finalize.
const (
	benchCases  = 66
	benchStages = 1 + 3*benchCases + 1 // 200
)

// hostName is the name of the i-th simulated host (1-based): it is the
// slave's identity and certificate name.
func hostName(i int) string { return fmt.Sprintf("h%04d.bench.test", i) }

// hostIP places host i (1-based, up to 62250) on 10.20.0.0/16, away from
// the gateway (10.20.0.1) and the DHCP range (10.20.250.x).
func hostIP(i int) string {
	return fmt.Sprintf("10.20.%d.%d", 1+(i-1)/250, 1+(i-1)%250)
}

// clusterDef writes cluster_NAME with n hosts, in the original
// XrdTest Python format.
func clusterDef(name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster(%q)
    cluster.info = 'xrdtest benchmark: %d simulated slaves'
    cluster.defaultHost.bootImage = 'bench.qcow2'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '262144'

    net = cluster.network
    net.ip = '10.20.0.1'
    net.netmask = '255.255.0.0'
    net.DHCPRange = ('10.20.250.1', '10.20.250.200')

    hosts = []
`, name, n)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "    hosts.append(Host('%s', '%s'))\n", hostName(i), hostIP(i))
	}
	b.WriteString("    cluster.addHosts(hosts)\n    return cluster\n")
	return b.String()
}

// suiteDef is a suite on one cluster, all its hosts, with the given cases.
func suiteDef(name, cluster string, cases []string) string {
	return fmt.Sprintf(`from XrdTest.TestUtils import TestSuite

def getTestSuite():
    ts = TestSuite(%q)
    ts.descName = 'xrdtest benchmark'
    ts.clusters = [%q]
    ts.tests = ['%s']
    ts.schedule = dict(hour='3')
    ts.initialize = 'file://suite_init.sh'
    ts.finalize = 'file://suite_finalize.sh'
    ts.alert_emails = []
    return ts
`, name, cluster, strings.Join(cases, "', '"))
}

// barrierRepo writes the definitions of a barrier round into dir: cluster
// cluster_bench with n hosts and suite "bench" of benchStages stages, every
// stage with a script, so every stage is dispatched to every slave.
func barrierRepo(dir string, n int) error {
	files := map[string]string{
		"clusters/cluster_bench.py":           clusterDef("cluster_bench", n),
		"test-suites/bench/suite_init.sh":     noopScript,
		"test-suites/bench/suite_finalize.sh": noopScript,
	}
	var cases []string
	for i := 1; i <= benchCases; i++ {
		c := fmt.Sprintf("c%02d", i)
		cases = append(cases, c)
		for _, s := range []string{"init.sh", "run.sh", "finalize.sh"} {
			files["test-suites/bench/tc/"+c+"/"+s] = noopScript
		}
	}
	files["test-suites/bench/test_suite.py"] = suiteDef("bench", "cluster_bench", cases)
	return writeTree(dir, files)
}

// streamHost is the one host of the streaming round.
const streamHost = "s0001.bench.test"

// streamRepo writes the definitions of the streaming round: one host, a
// suite "stream" whose only dispatched stage is big:run (the other scripts
// are absent or shebang-only: no-ops).
func streamRepo(dir string) error {
	cluster := strings.Replace(clusterDef("cluster_stream", 1), hostName(1), streamHost, 1)
	return writeTree(dir, map[string]string{
		"clusters/cluster_stream.py":       cluster,
		"test-suites/stream/test_suite.py": suiteDef("stream", "cluster_stream", []string{"big"}),
		// The master requires an initialize script; shebang-only, it is
		// not dispatched.
		"test-suites/stream/suite_init.sh":     "#!/bin/bash\n",
		"test-suites/stream/suite_finalize.sh": "#!/bin/bash\n",
		"test-suites/stream/tc/big/run.sh":     "#!/bin/bash\nhead -c 1G /dev/urandom\n",
	})
}

func writeTree(root string, files map[string]string) error {
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkRepo runs `xrdtest check --json` on dir and fails unless the
// definitions load without error and hold the expected suite and hosts.
func checkRepo(ctx context.Context, bin, dir, suite string, hosts, stages int) error {
	cmd := exec.CommandContext(ctx, bin, "check", "--json", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var res struct {
		Clusters []struct {
			Hosts []json.RawMessage `json:"hosts"`
		} `json:"clusters"`
		Suites []struct {
			Name       string          `json:"name"`
			Tests      []struct{}      `json:"tests"`
			Initialize json.RawMessage `json:"initialize"`
		} `json:"suites"`
		Errors []struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("xrdtest check %s: %v (exit: %v)\n%s", dir, err, runErr, stderr.String())
	}
	if len(res.Errors) > 0 || runErr != nil {
		var msgs []string
		for _, e := range res.Errors {
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message))
		}
		return fmt.Errorf("xrdtest check %s reports errors (exit: %v):\n  %s\n%s", dir, runErr, strings.Join(msgs, "\n  "), stderr.String())
	}
	if len(res.Clusters) != 1 || len(res.Clusters[0].Hosts) != hosts {
		return fmt.Errorf("xrdtest check %s: want one cluster of %d hosts, got %d clusters", dir, hosts, len(res.Clusters))
	}
	if len(res.Suites) != 1 || res.Suites[0].Name != suite {
		return fmt.Errorf("xrdtest check %s: suite %s not loaded", dir, suite)
	}
	if got := 2 + 3*len(res.Suites[0].Tests); stages > 0 && got != stages {
		return fmt.Errorf("xrdtest check %s: suite %s has %d stages, want %d", dir, suite, got, stages)
	}
	return nil
}
