package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

// The floor: what one round trip per connection costs over N mutual-TLS
// gRPC bidi streams on this machine, with no xrdtest logic at all. An echo
// server (this program again, as a child process, like the master) sends
// one RunStage to each of the N streams, each simulated client answers
// one StageDone at once, and the round ends with the last answer. The
// messages, the service, the TLS configuration (pki's ServerTLS and
// ClientTLS, certificates from a CA) and the client code are the barrier
// rounds' own; what is left out is everything the master does per stage.

// echoEnv, when set, makes this program the echo server: the value is
// the folder of the CA.
const echoEnv = "XRDTEST_BENCH_ECHO_CA"

// floorRound is the echo floor measured for one N, before its barrier
// round.
type floorRound struct {
	Slaves int `json:"slaves"`
	Rounds int `json:"rounds"`
	// RoundTrip is the time from the first send of a round to the last
	// answer, on the echo server's clock.
	RoundTrip dist `json:"round_trip"`
	// ServerCPUS is the echo server's CPU time during the rounds, and per
	// round trip (rounds x slaves).
	ServerCPUS    float64 `json:"server_cpu_s"`
	CPUPerRTUs    float64 `json:"server_cpu_per_round_trip_us"`
	ClientsCPUS   float64 `json:"clients_cpu_s"` // the bench process meanwhile
	RSSIdleMiB    float64 `json:"server_rss_idle_mib"`
	RSSAfterMiB   float64 `json:"server_rss_after_mib"`
	ConnectSecond float64 `json:"connect_s"`
}

// echoStage is the command the echo server sends: the size and shape of
// what the master sends for a bench stage.
func echoStage(round int, slave string) *protocol.MasterMessage {
	return &protocol.MasterMessage{Msg: &protocol.MasterMessage_RunStage{RunStage: &protocol.RunStage{
		Id: fmt.Sprintf("1/%d/%s", round, slave), Session: 1, Stage: int32(round), StageName: "case01:run",
		Script: "#!/bin/bash\ntrue\n",
		Env: []string{"XRDTEST_SESSION=1", "XRDTEST_SUITE=bench", "XRDTEST_STAGE=case01:run", "XRDTEST_CASE=case01",
			"XRDTEST_SLAVE=" + slave},
		TimeoutMs: 1800000, KillGraceMs: 10000,
	}}}
}

// echoAnswer answers every command with StageDone only.
type echoAnswer struct{}

func (echoAnswer) runStage(s *simSlave, rs *protocol.RunStage) {
	if err := s.send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageDone{StageDone: &protocol.StageDone{Id: rs.GetId()}}}); err != nil {
		s.broken(err)
	}
}

func (echoAnswer) ack(*simSlave, *protocol.Ack) {}

// floor measures the echo floor with n clients.
func floor(ctx context.Context, o *options, n int) (*floorRound, error) {
	dir, err := tempDir(o.tmp, fmt.Sprintf("xrdtest-bench-floor-%d-", n))
	if err != nil {
		return nil, err
	}
	defer cleanup(o, dir)
	caDir := filepath.Join(dir, "ca")
	ca, _, err := pki.LoadOrCreateCA(caDir)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := command(self, "-n", strconv.Itoa(n), "-floor-rounds", strconv.Itoa(o.floorRounds))
	cmd.Env = append(os.Environ(), echoEnv+"="+caDir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	line := func(prefix string) (string, error) {
		if !lines.Scan() {
			return "", fmt.Errorf("the echo server ended before saying %q: %v", prefix, lines.Err())
		}
		word, rest, _ := strings.Cut(lines.Text(), " ")
		if word != prefix {
			return "", fmt.Errorf("the echo server said %q, want %q", lines.Text(), prefix)
		}
		return rest, nil
	}
	addr, err := line("listening")
	if err != nil {
		return nil, err
	}

	// The clients: certificates issued directly by the CA (enrollment
	// is not what is measured), then the barrier rounds' client code.
	t0 := time.Now()
	slaves := make([]*simSlave, n)
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range slaves {
		name := hostName(i + 1)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			creds, err := issue(ca, name, filepath.Join(dir, "clients", name))
			if err == nil {
				slaves[i], err = connectSlave(ctx, addr, creds, name, echoAnswer{})
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer stopSlaves(slaves)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d echo clients could not connect: %w", len(errs), n, errs[0])
	}
	if _, err := line("connected"); err != nil {
		return nil, err
	}
	f := &floorRound{Slaves: n, Rounds: o.floorRounds, ConnectSecond: time.Since(t0).Seconds()}
	pid := cmd.Process.Pid
	idle, _, err := procMemory(pid)
	if err != nil {
		return nil, err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	self0 := selfCPU()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return nil, err
	}
	res, err := line("rounds")
	if err != nil {
		return nil, err
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	f.ClientsCPUS = (selfCPU() - self0).Seconds()
	after, _, err := procMemory(pid)
	if err != nil {
		return nil, err
	}
	var ns []int64
	if err := json.Unmarshal([]byte(res), &ns); err != nil {
		return nil, fmt.Errorf("the echo server's rounds: %w", err)
	}
	ds := make([]time.Duration, len(ns))
	for i, v := range ns {
		ds[i] = time.Duration(v)
	}
	f.RoundTrip = summarize(ds)
	f.ServerCPUS = (cpu1 - cpu0).Seconds()
	f.CPUPerRTUs = f.ServerCPUS * 1e6 / float64(n*o.floorRounds)
	f.RSSIdleMiB, f.RSSAfterMiB = mib(idle), mib(after)
	if err := slaveFailures(slaves); err != nil {
		return nil, fmt.Errorf("echo clients lost their connection: %w", err)
	}
	return f, nil
}

// issue makes a key and a certificate for a simulated client, signed by
// ca directly.
func issue(ca *pki.CA, name, dir string) (*pki.Credentials, error) {
	id := pki.Identity{Role: pki.RoleSlave, Name: name}
	key, csr, err := pki.NewRequest(id)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(csr, id, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	return pki.SaveCredentials(dir, key, cert, ca.CertPEM())
}

// echoServer is the child process: it serves the Master service's Connect
// with nothing but the echo, and talks to its parent on stdin/stdout:
// "listening ADDR", "connected" once n streams said Hello, then, after
// "go" on stdin, the rounds, and "rounds [ns...]".
func echoServer(caDir string, n, rounds int) error {
	ca, _, err := pki.LoadOrCreateCA(caDir)
	if err != nil {
		return err
	}
	tlsConf, err := ca.ServerTLS(caDir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e := &echo{n: n, joined: make(chan struct{}), roundDone: make(chan struct{}, 1)}
	// The master's transport settings (protocol.ServerOptions); its
	// keepalive only matters for idle connections.
	srv := grpc.NewServer(append(protocol.ServerOptions(), grpc.Creds(credentials.NewTLS(tlsConf)))...)
	protocol.RegisterMasterServer(srv, e)
	go srv.Serve(ln)
	defer srv.Stop()
	fmt.Printf("listening %s\n", ln.Addr())
	select {
	case <-e.joined:
	case <-time.After(5 * time.Minute):
		return errors.New("the clients did not connect within 5 minutes")
	}
	fmt.Println("connected")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "go" {
		return errors.New("no go from the parent")
	}
	out := make([]int64, rounds)
	for r := range rounds {
		e.pending.Store(int64(n))
		t := time.Now()
		for _, s := range e.streams {
			if err := s.stream.Send(echoStage(r, s.name)); err != nil {
				return fmt.Errorf("send to %s: %w", s.name, err)
			}
		}
		select {
		case <-e.roundDone:
		case <-time.After(time.Minute):
			return fmt.Errorf("round %d: %d answers missing after a minute", r, e.pending.Load())
		}
		out[r] = int64(time.Since(t))
	}
	b, _ := json.Marshal(out)
	fmt.Printf("rounds %s\n", b)
	in.Scan() // until the parent closes stdin
	return nil
}

type echoStream struct {
	name   string
	stream protocol.Master_ConnectServer
}

type echo struct {
	protocol.UnimplementedMasterServer
	n         int
	mu        sync.Mutex
	streams   []echoStream
	joined    chan struct{}
	pending   atomic.Int64
	roundDone chan struct{}
}

func (e *echo) Connect(stream protocol.Master_ConnectServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	// The heartbeat interval the master asks for by default: the clients
	// beat as they do in the barrier rounds.
	if err := stream.Send(&protocol.MasterMessage{Msg: &protocol.MasterMessage_Welcome{Welcome: &protocol.Welcome{HeartbeatIntervalMs: 2000}}}); err != nil {
		return err
	}
	e.mu.Lock()
	e.streams = append(e.streams, echoStream{name: first.GetHello().GetName(), stream: stream})
	if len(e.streams) == e.n {
		close(e.joined)
	}
	e.mu.Unlock()
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		if m.GetStageDone() != nil && e.pending.Add(-1) == 0 {
			e.roundDone <- struct{}{}
		}
	}
}

// floorTarget is the barrier's goal: its p50 at most this times the
// echo floor's, at 100 and 1000 slaves.
const floorTarget = 1.3

// budget is the CPU per stage result (us) of a barrier round and of the
// echo floor at the same N. With the master (or the echo server) and the
// simulated slaves (or the echo's clients) on the same CPUs, both rounds
// are bound by CPU, so the barrier's ratio to the floor follows the
// ratio of these sums.
type budget struct {
	master, slaves          float64
	echoServer, echoClients float64
}

func budgetOf(f *floorRound, r *round) budget {
	perF := 1e6 / float64(f.Rounds*f.Slaves)
	perR := 1e6 / float64(r.Stages*r.Slaves)
	return budget{master: r.MasterCPUS * perR, slaves: r.SlavesCPUS * perR,
		echoServer: f.ServerCPUS * perF, echoClients: f.ClientsCPUS * perF}
}

// masterBudget is the master's CPU per result that would put the round
// at floorTarget times the echo's CPU, the simulated slaves costing what
// they cost.
func (b budget) masterBudget() float64 {
	return floorTarget*(b.echoServer+b.echoClients) - b.slaves
}

// printFloors prints the floor table and, per N, the barrier next to it.
func printFloors(w io.Writer, rep *report) {
	fmt.Fprintf(w, "Floor: a bare gRPC echo over N mutual-TLS Connect streams (same TLS, messages and client code, no xrdtest logic):\n")
	fmt.Fprintf(w, "one RunStage to each stream, one StageDone back from each; round trip = first send to last answer, in ms over %d rounds.\n", rep.Floors[0].Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "streams\tp50\tp99\tmax\tmean\t  server CPU s\tCPU/round trip us\tclients CPU s\t  server RSS idle\tafter\t")
	for _, f := range rep.Floors {
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.2f\t%.1f\t%.1f\t\n", f.Slaves, f.RoundTrip.P50, f.RoundTrip.P99,
			f.RoundTrip.Max, f.RoundTrip.Mean, f.ServerCPUS, f.CPUPerRTUs, f.ClientsCPUS, f.RSSIdleMiB, f.RSSAfterMiB)
	}
	tw.Flush()
	for _, f := range rep.Floors {
		for _, r := range rep.Rounds {
			if r.Slaves != f.Slaves {
				continue
			}
			fmt.Fprintf(w, "%4d slaves: xrdtest's barrier costs p50 %.2f ms / p99 %.2f ms where the bare echo over as many connections costs p50 %.2f ms / p99 %.2f ms (x%.1f at p50)\n",
				r.Slaves, r.Overhead.P50, r.Overhead.P99, f.RoundTrip.P50, f.RoundTrip.P99, r.Overhead.P50/f.RoundTrip.P50)
			b := budgetOf(f, r)
			fmt.Fprintf(w, "            CPU per result: master %.0f + slaves %.0f = %.0f us, echo server %.0f + clients %.0f = %.0f us (x%.2f);\n",
				b.master, b.slaves, b.master+b.slaves, b.echoServer, b.echoClients, b.echoServer+b.echoClients, (b.master+b.slaves)/(b.echoServer+b.echoClients))
			fmt.Fprintf(w, "            at x%.1f of the echo's CPU the master could use %.0f us per result: %.0f us beside the bare echo server's own %.0f",
				floorTarget, b.masterBudget(), b.masterBudget()-b.echoServer, b.echoServer)
			if rep.RecordUs > 0 {
				fmt.Fprintf(w, " (recording the result in SQLite alone: %.1f us)", rep.RecordUs)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
}
