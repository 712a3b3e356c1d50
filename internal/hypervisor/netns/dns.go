package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dnsmasqConf is the cluster's DNS server configuration: it answers on
// the gateway address only, from the cluster's names alone (hostsFile:
// an alias on N hosts is N lines, which dnsmasq returns together), and
// never forwards a question anywhere.
func dnsmasqConf(p *plan, hostsFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen-address=%s\nbind-interfaces\nexcept-interface=lo\n", p.net.Addr())
	b.WriteString("no-resolv\nno-hosts\nno-poll\nlocal-ttl=60\ndomain-needed\nbogus-priv\n")
	fmt.Fprintf(&b, "addn-hosts=%s\n", hostsFile)
	b.WriteString("local=/xrd.test/\n") // master.xrd.test and the usual host names
	if d := p.domain(); d != "" && d != "xrd.test" {
		fmt.Fprintf(&b, "local=/%s/\n", d)
	}
	b.WriteString("pid-file=\nuser=root\n")
	return b.String()
}

// dnsHosts is dnsmasq's hosts file: one line per name and address.
func dnsHosts(p *plan) string {
	var b strings.Builder
	for _, r := range p.records() {
		for _, a := range r.addrs {
			fmt.Fprintf(&b, "%s %s\n", a, r.name)
		}
	}
	return b.String()
}

// startDNS starts dnsmasq in the cluster's namespace, in cgroup cg (so
// that a stop, or a hypervisor started again, finds it without a PID
// file), and waits until it answers.
func startDNS(ctx context.Context, n naming, p *plan, dir string, cg cgroup) error {
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		return fmt.Errorf("the cluster's DNS server needs dnsmasq (apt-get install dnsmasq-base): %w", err)
	}
	conf, hosts := filepath.Join(dir, "dnsmasq.conf"), filepath.Join(dir, "dns-hosts")
	if err := os.WriteFile(hosts, []byte(dnsHosts(p)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(conf, []byte(dnsmasqConf(p, hosts)), 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "dnsmasq.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("dnsmasq", "--keep-in-foreground", "--conf-file="+conf, "--log-facility=-")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session, no parent-death signal: it outlives a crashed
	// hypervisor with the cluster.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := inNetns(n.clusterNS(), cmd.Start); err != nil {
		return fmt.Errorf("start dnsmasq: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := cg.add(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		return err
	}
	// It answers once its socket is bound: ask for master.xrd.test.
	for {
		addrs, err := lookup(ctx, n.clusterNS(), p.net.Addr().String(), MasterName)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no address")
		}
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			data, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("dnsmasq ended: %v: %s", werr, strings.TrimSpace(string(data)))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// lookup asks the DNS server at server (port 53) in network namespace ns
// for name's IPv4 addresses.
func lookup(ctx context.Context, ns, server, name string) ([]string, error) {
	// The resolver dials from goroutines of its own: the socket is made
	// in ns and handed over.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (c net.Conn, err error) {
		err = inNetns(ns, func() (err error) {
			c, err = net.Dial("udp", net.JoinHostPort(server, "53"))
			return err
		})
		return c, err
	}}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	ips, err := r.LookupIP(ctx, "ip4", name)
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out, err
}

// Forwarder makes ports of this machine answer inside a network
// namespace: it listens there (a socket made in the namespace and held
// by this process: no process in the namespace, no route or rule
// anywhere) and relays every connection to the same port of a host as
// this machine reaches it. The backend makes master.xrd.test's ports
// answer on a cluster's gateway with one.
type Forwarder struct {
	listeners []net.Listener
	wg        sync.WaitGroup
}

// Forward listens in network namespace ns (a name under /run/netns) on
// listenHost ("" = every address) at each port, and relays to
// targetHost at the same port. Port 0 and repeated ports are skipped.
func Forward(ns, listenHost, targetHost string, ports []int, log *slog.Logger) (*Forwarder, error) {
	f := &Forwarder{}
	seen := map[int]bool{0: true}
	for _, port := range ports {
		if seen[port] {
			continue
		}
		seen[port] = true
		var l net.Listener
		err := inNetns(ns, func() (err error) {
			l, err = net.Listen("tcp", net.JoinHostPort(listenHost, strconv.Itoa(port)))
			return err
		})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("forward port %d in %s: %w", port, ns, err)
		}
		f.listeners = append(f.listeners, l)
		target := net.JoinHostPort(targetHost, strconv.Itoa(port))
		f.wg.Go(func() { relay(l, target, log) })
	}
	return f, nil
}

// forward makes master.xrd.test's ports answer on the cluster's gateway.
func forward(n naming, p *plan, masterHost string, ports []int, log *slog.Logger) (*Forwarder, error) {
	f, err := Forward(n.clusterNS(), p.net.Addr().String(), masterHost, ports, log)
	if err != nil {
		return nil, fmt.Errorf("master.xrd.test: %w", err)
	}
	return f, nil
}

func relay(l net.Listener, target string, log *slog.Logger) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				log.Warn("forward: cannot reach the target", "target", target, "err", err)
				return
			}
			defer out.Close()
			done := make(chan struct{}, 2)
			cp := func(dst, src net.Conn) {
				io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go cp(out, in)
			go cp(in, out)
			<-done
			<-done
		}()
	}
}

// Close stops listening; connections in progress run to their end.
func (f *Forwarder) Close() {
	if f == nil {
		return
	}
	for _, l := range f.listeners {
		l.Close()
	}
	f.wg.Wait()
}
