package netns

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/hypervisor/local"
)

// BenchmarkStartStop measures, for 8 and 64 hosts, StartCluster until
// every (stand-in) slave has connected to the master and every host
// resolves master.xrd.test, the shared alias and the last host's name,
// and StopCluster; the process backend (local) beside it, slaves only.
// It reports them as start-ms and stop-ms:
//
//	go test -run '^$' -bench StartStop -benchtime 3x ./internal/hypervisor/netns
func BenchmarkStartStop(b *testing.B) {
	if testing.Short() {
		b.Skip("creates namespaces")
	}
	for _, tt := range []struct {
		backend string
		hosts   int
	}{{"netns", 8}, {"netns", 64}, {"local", 8}, {"local", 64}} {
		n := tt.hosts
		b.Run(fmt.Sprintf("%s/hosts=%d", tt.backend, n), func(b *testing.B) {
			var be hypervisor.Backend
			var nb *Backend
			if tt.backend == "local" {
				// The process backend beside it: slaves only, no names.
				be = &local.Backend{Binary: testBinary(), Dir: b.TempDir(), StopGrace: 5 * time.Second,
					FunctionsPath: filepath.Join(b.TempDir(), "functions.sh"), Log: slog.New(slog.DiscardHandler)}
			} else {
				var err error
				if nb, err = New(Config{StateDir: b.TempDir(), Binary: testBinary(), StopGrace: 5 * time.Second}); err != nil {
					b.Fatal(err)
				}
				be = nb
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			connected := make(chan string, n)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						name, _ := bufio.NewReader(c).ReadString('\n')
						connected <- strings.TrimSpace(name)
					}()
				}
			}()
			spec := hypervisor.ClusterSpec{Cluster: benchCluster(n), Master: hypervisor.MasterEndpoint{Port: l.Addr().(*net.TCPAddr).Port}}
			var start, stop time.Duration
			for range b.N {
				t0 := time.Now()
				if err := be.StartCluster(context.Background(), spec); err != nil {
					b.Fatal(err)
				}
				for range n {
					select {
					case <-connected:
					case <-time.After(30 * time.Second):
						b.Fatal("slaves did not connect")
					}
				}
				if nb != nil {
					if err := resolveEverywhere(running(nb, spec.Cluster.Name), spec.Cluster); err != nil {
						be.StopCluster(context.Background(), spec.Cluster.Name)
						b.Fatal(err)
					}
				}
				start += time.Since(t0)
				t0 = time.Now()
				if err := be.StopCluster(context.Background(), spec.Cluster.Name); err != nil {
					b.Fatal(err)
				}
				stop += time.Since(t0)
			}
			b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "start-ms")
			b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms")
		})
	}
}

// benchCluster is n hosts on one /24 (or /16 beyond 200), half of them
// behind one alias.
func benchCluster(n int) *definition.Cluster {
	c := &definition.Cluster{Name: fmt.Sprintf("bench%d", n), Network: definition.Network{Name: "net", IP: "10.9.0.1", Netmask: "255.255.0.0"}}
	for i := range n {
		h := &definition.Host{Name: fmt.Sprintf("h%d.xrd.test", i), IP: fmt.Sprintf("10.9.%d.%d", 1+i/200, 10+i%200), RAMKiB: 256 << 10}
		if i%2 == 1 {
			h.Aliases = []string{"pool.xrd.test"}
		}
		c.Hosts = append(c.Hosts, h)
	}
	return c
}

// resolveEverywhere has every host resolve master.xrd.test, the alias
// and the last host.
func resolveEverywhere(c *cluster, def *definition.Cluster) error {
	last := def.Hosts[len(def.Hosts)-1].Name
	errs := make(chan error, len(c.hosts))
	var wg sync.WaitGroup
	for _, h := range c.hosts {
		wg.Go(func() {
			out, err := runIn(h, "getent", "ahostsv4", MasterName, "pool.xrd.test", last)
			if err != nil || !strings.Contains(out, "10.9.0.1") {
				errs <- fmt.Errorf("%s: %v %s", h.name, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
