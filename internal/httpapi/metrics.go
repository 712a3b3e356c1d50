package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/session"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xrdtest/xrdtest/internal/store"
)

// Metrics are the master's Prometheus metrics, on a registry of their own
// (nothing a library registers globally leaks in), served at /metrics.
// Like the read-only API they are public.
type Metrics struct {
	reg           *prometheus.Registry
	stageDuration *prometheus.HistogramVec
	sessions      *sessionCounts
}

// sessionStates are reported even when no session has them, so that a
// series does not vanish.
var sessionStates = store.AllSessionStates()

// NewMetrics returns the master's metrics: the history's sessions by
// state, the daemons connected, the sessions in progress (inProgress) and
// the stages' durations (StageEnded).
func NewMetrics(st store.Store, reg *daemons.Registry, inProgress func() int, version string, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), sessions: &sessionCounts{store: st, ttl: 5 * time.Second, now: time.Now, log: log}}
	// Labels are bounded: stage kinds and statuses, not suite, case or
	// slave names (a long history would make series without end).
	m.stageDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "xrdtest_stage_duration_seconds",
		Help:    "How long a stage ran on one slave, by kind of stage (suite_init, init, run, finalize, suite_finalize) and how it ended; observed when the slave reports it (stages skipped or without a script are not observed).",
		Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"kind", "status"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "xrdtest_build_info", Help: "Always 1; the master's version.", ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.stageDuration, build,
		m.sessions,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "xrdtest_sessions_in_progress", Help: "Sessions this master is carrying out now (queued or running)."},
			func() float64 { return float64(inProgress()) }),
		daemonCounts{reg},
	)
	return m
}

// StageEnded observes one slave's stage as its result is recorded
// (session.Manager.ObserveStage).
func (m *Metrics) StageEnded(kind session.StageKind, r *store.Result) {
	if r.Start.IsZero() || r.End.IsZero() {
		return
	}
	m.stageDuration.WithLabelValues(kind.String(), string(r.Status)).Observe(max(r.End.Sub(r.Start), 0).Seconds())
}

// Handler serves the metrics in the Prometheus text format (or
// OpenMetrics when asked). Concurrent scrapes share one gathering.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		CoalesceGather:      true,
		MaxRequestsInFlight: 8,
		Timeout:             30 * time.Second,
	})
}

// sessionCounts is the gauge xrdtest_sessions{state}: the history's
// sessions by state, counted in the store at scrape time (one indexed
// count per state) and kept for ttl.
//
// Why the store and not counters kept by the Manager: the store is the
// truth whoever changes it (sessions marked interrupted at start, a
// history pruned by hand or by a later feature), so the gauge can never
// drift, and there is no state to keep in step. The cost is bounded: a
// whole scrape takes ~13 ms with 100k sessions counted, under 1 ms from
// the cache (BenchmarkMetricsScrape, 2 cores), and the store is read at
// most once per ttl whatever the scrape rate (/metrics is public).
type sessionCounts struct {
	store store.Store
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu     sync.Mutex
	at     time.Time
	counts map[store.SessionState]int
}

var sessionsDesc = prometheus.NewDesc("xrdtest_sessions", "Sessions in the history, by state (queued and running are the ones not finished).", []string{"state"}, nil)

func (c *sessionCounts) Describe(ch chan<- *prometheus.Desc) { ch <- sessionsDesc }

func (c *sessionCounts) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.get()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(sessionsDesc, err)
		return
	}
	for _, s := range sessionStates {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}

func (c *sessionCounts) get() (map[store.SessionState]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts != nil && c.now().Sub(c.at) < c.ttl {
		return c.counts, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	counts := map[store.SessionState]int{}
	for _, s := range sessionStates {
		_, n, err := c.store.Sessions(ctx, store.Filter{States: []store.SessionState{s}, Limit: 1})
		if err != nil {
			c.log.Warn("metrics: cannot count the sessions", "state", s, "err", err)
			return nil, err
		}
		counts[s] = n
	}
	c.counts, c.at = counts, c.now()
	return counts, nil
}

// daemonCounts is xrdtest_daemons_connected{role}.
type daemonCounts struct{ reg *daemons.Registry }

var daemonsDesc = prometheus.NewDesc("xrdtest_daemons_connected", "Daemons connected to the master, by role (slaves in their reconnection grace are not counted).", []string{"role"}, nil)

func (d daemonCounts) Describe(ch chan<- *prometheus.Desc) { ch <- daemonsDesc }

func (d daemonCounts) Collect(ch chan<- prometheus.Metric) {
	n := map[api.Role]int{api.RoleSlave: 0, api.RoleHypervisor: 0}
	for _, info := range d.reg.Daemons() {
		if info.State == api.DaemonConnected {
			n[info.Role]++
		}
	}
	for role, count := range n {
		ch <- prometheus.MustNewConstMetric(daemonsDesc, prometheus.GaugeValue, float64(count), string(role))
	}
}

// SetSessionCountsTTL sets how long the session counts are kept between
// scrapes (default 5 s; tests: 0, always fresh).
func (m *Metrics) SetSessionCountsTTL(d time.Duration) { m.sessions.ttl = d }
