package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/protocol"
)

const (
	// streamChunk is the size of one StageOutput, like the real slave's
	// reads of a script's output.
	streamChunk = 64 << 10
	// streamWindow bounds the output sent and not yet acknowledged, as the
	// real slave's window does (internal/slave: window).
	streamWindow = 8 << 20
)

// streamer answers the run stage by streaming total bytes of deterministic
// pseudo-random output (ChaCha8 with a fixed seed), 64 KiB chunks numbered
// from 1, never more than streamWindow unacknowledged. Like the real slave,
// it holds each chunk until the master acknowledges it (it would resend it
// after a reconnect), so its memory is bounded by the window: a chunk's
// buffer is reused only once acknowledged.
type streamer struct {
	total int64

	mu      sync.Mutex
	acked   uint64        // highest chunk acknowledged
	ackedCh chan struct{} // closed and replaced at every ack
	stage   string        // id of the stage being streamed

	done     chan struct{} // closed when the stage is stored or streaming failed
	doneOnce sync.Once
	res      streamResult // under mu
}

type streamResult struct {
	err      error
	sum      string // sha256 of what was sent
	chunks   uint64
	received time.Time // RunStage received
	stored   time.Time // the last chunk acknowledged: every byte is stored
}

func newStreamer(total int64) *streamer {
	return &streamer{total: total, ackedCh: make(chan struct{}), done: make(chan struct{})}
}

func (st *streamer) runStage(s *simSlave, rs *protocol.RunStage) {
	st.mu.Lock()
	if st.stage != "" { // one stage only; a resend would be a bug here
		st.mu.Unlock()
		return
	}
	st.stage = rs.GetId()
	st.res.received = time.Now()
	st.mu.Unlock()
	// Generating and sending block on the window: not on the receiving
	// goroutine, which must keep reading the acknowledgements.
	go st.stream(s, rs.GetId())
}

func (st *streamer) ack(s *simSlave, a *protocol.Ack) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if a.GetId() != st.stage {
		return
	}
	if a.GetDone() {
		// The master acknowledges a stage's end with its next message
		// to the slave, at the latest with its next heartbeat: not a
		// measure of storing.
		st.doneOnce.Do(func() { close(st.done) })
		return
	}
	if a.GetSeq() > st.acked {
		st.acked = a.GetSeq()
		close(st.ackedCh)
		st.ackedCh = make(chan struct{})
	}
	if n := uint64((st.total + streamChunk - 1) / streamChunk); st.acked == n && st.res.stored.IsZero() {
		st.res.stored = time.Now()
	}
}

// waitWindow blocks until chunk seq may be sent: at most streamWindow
// bytes unacknowledged once it is.
func (st *streamer) waitWindow(seq uint64) {
	for {
		st.mu.Lock()
		ok, ch := (seq-st.acked)*streamChunk <= streamWindow, st.ackedCh
		st.mu.Unlock()
		if ok {
			return
		}
		<-ch
	}
}

func (st *streamer) stream(s *simSlave, id string) {
	fail := func(err error) {
		st.mu.Lock()
		st.res.err = err
		st.mu.Unlock()
		s.broken(err)
		st.doneOnce.Do(func() { close(st.done) })
	}
	if err := s.send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageStarted{StageStarted: &protocol.StageStarted{Id: id}}}); err != nil {
		fail(err)
		return
	}
	// The chunks in flight, by seq modulo their number: the buffer of
	// chunk seq is the one of seq-len(ring), acknowledged by waitWindow.
	ring := make([][]byte, streamWindow/streamChunk)
	for i := range ring {
		ring[i] = make([]byte, streamChunk)
	}
	gen := rand.NewChaCha8([32]byte{'x', 'r', 'd', 't', 'e', 's', 't'})
	h := sha256.New()
	var seq uint64
	for left := st.total; left > 0; {
		seq++
		buf := ring[seq%uint64(len(ring))][:min(left, streamChunk)]
		st.waitWindow(seq)
		gen.Read(buf)
		h.Write(buf)
		left -= int64(len(buf))
		m := &protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageOutput{StageOutput: &protocol.StageOutput{Id: id, Seq: seq, Data: buf}}}
		if err := s.send(m); err != nil {
			fail(err)
			return
		}
	}
	st.mu.Lock()
	st.res.sum, st.res.chunks = hex.EncodeToString(h.Sum(nil)), seq
	st.mu.Unlock()
	if err := s.send(&protocol.DaemonMessage{Msg: &protocol.DaemonMessage_StageDone{StageDone: &protocol.StageDone{Id: id, Chunks: seq}}}); err != nil {
		fail(err)
	}
}

// result returns the outcome once done is closed.
func (st *streamer) result() streamResult {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.res
}

// streamRound is the result of the streaming round.
type streamRound struct {
	Bytes         int64   `json:"bytes"`
	Chunks        uint64  `json:"chunks"`
	Seconds       float64 `json:"seconds"` // RunStage received -> last chunk acknowledged
	MiBPerSecond  float64 `json:"mib_per_s"`
	RSSBeforeMiB  float64 `json:"master_rss_before_mib"`
	RSSPeakMiB    float64 `json:"master_rss_peak_mib"` // highest 100 ms sample
	RSSGrowthMiB  float64 `json:"master_rss_growth_mib"`
	RSSSamples    int     `json:"rss_samples"`
	MasterCPUS    float64 `json:"master_cpu_s"` // during the session
	SentSHA256    string  `json:"sent_sha256"`
	StoredSHA256  string  `json:"stored_sha256"`
	StoredBytes   int64   `json:"stored_bytes"`
	ReadMiBPerSec float64 `json:"readback_mib_per_s"`
	Match         bool    `json:"match"`
	State         string  `json:"session_state"`
}

// runStream runs the streaming round on a fresh master: one slave streams
// total bytes in its run stage while the master's RSS is sampled every
// 100 ms; then the stored output is read back through the API and hashed.
func runStream(ctx context.Context, o *options, bin, base string, total int64) (*streamRound, error) {
	dir, err := tempDir(base, "xrdtest-bench-stream-")
	if err != nil {
		return nil, err
	}
	defer cleanup(o, dir)
	repo := filepath.Join(dir, "repo")
	if err := streamRepo(repo); err != nil {
		return nil, err
	}
	if err := checkRepo(ctx, bin, repo, "stream", 1, 5); err != nil {
		return nil, err
	}
	m, err := startMaster(ctx, bin, dir, repo, false)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	st := newStreamer(total)
	slaves, err := startSlaves(ctx, m, []string{streamHost}, filepath.Join(dir, "slaves"), 1, func(string) stageHandler { return st })
	if err != nil {
		return nil, err
	}
	defer stopSlaves(slaves)
	if err := m.waitSlaves(ctx, 1, time.Minute); err != nil {
		return nil, err
	}

	r := &streamRound{Bytes: total}
	before, _, err := m.memory()
	if err != nil {
		return nil, err
	}
	r.RSSBeforeMiB = mib(before)
	cpu0, err := m.cpuTime()
	if err != nil {
		return nil, err
	}
	peak := before
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if rss, _, err := m.memory(); err == nil {
					peak = max(peak, rss)
					r.RSSSamples++
				}
			}
		}
	}()
	s, err := m.runSession(ctx, "stream", o.timeout)
	close(stopSampling)
	<-sampled
	if err != nil {
		return nil, err
	}
	if cpu1, err := m.cpuTime(); err == nil {
		r.MasterCPUS = (cpu1 - cpu0).Seconds()
	}
	r.RSSPeakMiB, r.RSSGrowthMiB, r.State = mib(peak), mib(peak-before), string(s.State)
	// The master acknowledges the stage's end as it records it; the ack
	// may trail the session's end by a moment.
	select {
	case <-st.done:
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("session %d %s (%s), but the slave's stage was never acknowledged as stored", s.ID, s.State, s.Reason)
	}
	res := st.result()
	if res.err != nil {
		return nil, fmt.Errorf("streaming: %w", res.err)
	}
	if s.State != api.SessionPassed {
		return nil, fmt.Errorf("stream session %d %s: %s", s.ID, s.State, s.Reason)
	}
	r.Chunks, r.SentSHA256 = res.chunks, res.sum
	r.Seconds = res.stored.Sub(res.received).Seconds()
	r.MiBPerSecond = mib(total) / r.Seconds

	// Read it back as a user would, streamed, never whole in memory.
	d, _, err := m.detail(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	stage := -1
	for _, sd := range d.Stages {
		if sd.Name == "big:run" {
			stage = sd.Index
		}
	}
	if stage < 0 {
		return nil, fmt.Errorf("session %d has no stage big:run", s.ID)
	}
	body, err := m.output(ctx, s.ID, stage, streamHost)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	h := sha256.New()
	t0 := time.Now()
	n, err := io.CopyBuffer(h, body, make([]byte, 256<<10))
	if err != nil {
		return nil, fmt.Errorf("reading the output back: %w", err)
	}
	r.ReadMiBPerSec = mib(n) / time.Since(t0).Seconds()
	r.StoredBytes, r.StoredSHA256 = n, hex.EncodeToString(h.Sum(nil))
	r.Match = n == total && r.StoredSHA256 == r.SentSHA256
	if err := slaveFailures(slaves); err != nil {
		return nil, err
	}
	return r, nil
}
