package master_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/store"
)

// scrape fetches /metrics and parses the text format.
func scrape(t *testing.T, m *master.Master) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + m.WebAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the text format: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want ("k=v" pairs); -1 when absent. For a histogram: its count.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "go")
	m := masterWithRepo(t, filepath.Join(dir, "state"), "#!/bin/bash\nwhile [ ! -e "+gate+" ]; do sleep 0.05; done\necho ran\n", 10*time.Second)
	defer mastertest.Serve(m)()
	m.Metrics.SetSessionCountsTTL(0)

	fams := scrape(t, m)
	for name, want := range map[string]float64{"xrdtest_sessions": 0, "xrdtest_sessions_in_progress": 0, "xrdtest_daemons_connected": 0, "xrdtest_build_info": 1} {
		if got := value(fams, name); got != want {
			t.Errorf("before anything: %s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
	if value(fams, "xrdtest_build_info", "version=test") != 1 { // the version of test masters
		t.Errorf("build info: %v", fams["xrdtest_build_info"])
	}
	if fams["xrdtest_stage_duration_seconds"] != nil && len(fams["xrdtest_stage_duration_seconds"].GetMetric()) > 0 {
		t.Errorf("stage durations before any stage: %v", fams["xrdtest_stage_duration_seconds"])
	}

	defer runAgents(t, m, hosts...)()
	waitConnected(t, m, hosts...)
	ctx := context.Background()
	s := mastertest.StartSession(t, m, "ts")
	// While the run stage waits for the gate.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, _ := store.Detail(ctx, m.Store, s.ID)
		if d != nil && len(d.Stages) >= 3 && len(d.Stages[2].Results) == 2 && d.Stages[2].Results[1].Status == store.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run stage never started")
		}
	}
	fams = scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"xrdtest_sessions", []string{"state=running"}, 1},
		{"xrdtest_sessions", []string{"state=passed"}, 0},
		{"xrdtest_sessions_in_progress", nil, 1},
		{"xrdtest_daemons_connected", []string{"role=slave"}, 2},
		{"xrdtest_daemons_connected", []string{"role=hypervisor"}, 0},
		{"xrdtest_stage_duration_seconds", []string{"kind=suite_init", "status=passed"}, 2},
		{"xrdtest_stage_duration_seconds", []string{"kind=run"}, -1},
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("while running: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The run stage was seen running: held 100 ms more, each of its two
	// results lasts at least that long.
	time.Sleep(100 * time.Millisecond)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := m.Manager.Wait(ctx, s.ID)
	if err != nil || s.State != store.SessionPassed {
		t.Fatalf("session: %v %+v", err, s)
	}
	fams = scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"xrdtest_sessions", []string{"state=running"}, 0},
		{"xrdtest_sessions", []string{"state=passed"}, 1},
		{"xrdtest_sessions", []string{"state=interrupted"}, 0},
		{"xrdtest_sessions_in_progress", nil, 0},
		{"xrdtest_stage_duration_seconds", []string{"kind=run", "status=passed"}, 2},
		{"xrdtest_stage_duration_seconds", []string{"kind=suite_init", "status=passed"}, 2},
		{"xrdtest_stage_duration_seconds", []string{"kind=finalize"}, -1}, // no script: not observed
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("after: %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The run stage waited for the gate: its observed time shows it.
	for _, met := range fams["xrdtest_stage_duration_seconds"].GetMetric() {
		h := met.GetHistogram()
		if strings.Contains(met.String(), `value:"run"`) && h.GetSampleSum() < 0.2 {
			t.Errorf("run stage durations sum to %vs", h.GetSampleSum())
		}
		if n := len(h.GetBucket()); n != 13 { // and +Inf
			t.Errorf("%d buckets", n)
		}
	}
}
