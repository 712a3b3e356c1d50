package master

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/notify"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/store"
)

// Options configure a master.
type Options struct {
	StateDir   string // CA, history database, outputs
	Database   string // PostgreSQL URL of the history, see store.OpenPostgres ("": SQLite in StateDir)
	DaemonAddr string // where daemons connect (gRPC, mutual TLS)
	WebAddr    string // the JSON API
	Token      string // the connection token daemons enroll with
	APIToken   string // the token API actions need ("" and no APITokens: actions disabled)
	// APITokens are more tokens of the API, each with its holder's name.
	APITokens []APIToken
	Repos     []definition.Repo
	Settings  SessionSettings
	// Clusters starts the suites' clusters; nil with StartClusters: the
	// connected hypervisor daemons; nil without: none (the slaves of
	// physical machines connect by themselves).
	Clusters      ClusterProvider
	StartClusters bool
	Heartbeat     time.Duration
	// HeartbeatTimeout disconnects a daemon silent for this long.
	HeartbeatTimeout time.Duration
	// ReconnectGrace is how long a disconnected slave may take to come back
	// before its stages are lost (0: DefaultGrace).
	ReconnectGrace time.Duration
	Log            *slog.Logger
	Version        string
	// Schedule runs the suites at their cron times (Clock, Location and
	// Log may be left zero); Enabled false fires nothing.
	Schedule scheduler.Config
	// Notifier sends the alert mails (nil: none); BaseURL makes the links.
	Notifier notify.Notifier
	BaseURL  string
	// ReloadDebounce is how long the definitions must stay unchanged on
	// disk before they are reloaded (0: 500 ms; negative: no watching).
	ReloadDebounce time.Duration
	// Git lists the repositories of Repos that are git checkouts the
	// master clones and fetches; the others are watched on disk.
	Git []GitRepo
	// GitStartWait bounds how long Open waits for the first sync of the
	// git repositories before it goes on with the checkouts it has; the
	// sync goes on in the background (0: DefaultGitStartWait; negative:
	// no wait).
	GitStartWait time.Duration
	// ShutdownTimeout bounds how long Close waits for the interrupted
	// sessions to record their end (0: 20 s).
	ShutdownTimeout time.Duration
	// WebTLS serves the web port over HTTPS ([webserver] protocol =
	// https): with the certificate of WebCertFile and WebKeyFile
	// ([security] certfile, keyfile) when given, else the master's own.
	WebTLS                  bool
	WebCertFile, WebKeyFile string
	// TestCACertFile and TestCAKeyFile are the CA of the suites' test
	// certificates ([security] ca_certfile, ca_keyfile); empty: one in
	// StateDir/test-ca, created at the first start. See testCredentials.
	TestCACertFile, TestCAKeyFile string
	// WebpageDir is where /showScript looks first ([webserver]
	// webpage_dir; "": only the repositories).
	WebpageDir string
	// WebUI builds the web pages served beside the API (nil: API only).
	WebUI func(m *Master) (WebUI, error)
	// Retention limits the history kept (zero: everything).
	Retention Retention
}

// WebUI is the web pages' handler, mounted at / on the web port.
type WebUI interface {
	http.Handler
	// Protect wraps everything the web port serves (the API too): it
	// may refuse requests, e.g. reads when the pages are not public.
	Protect(http.Handler) http.Handler
}

// Master is an assembled master: CA, history, definitions, the daemon
// port, the API and the session manager.
type Master struct {
	CA        *pki.CA
	Store     store.Store
	Registry  *Registry
	Manager   *Manager
	Scheduler *scheduler.Scheduler
	Changes   *Changes // tells live views which sessions changed
	views     *Views
	Metrics   *Metrics
	opts      Options
	defs      atomic.Pointer[definition.Set]
	repos     repoState

	testCreds       *testCredentials
	daemonLn, webLn net.Listener
	grpcServer      *grpc.Server
	httpServer      *http.Server
	lock            *os.File
}

// Open creates or loads the master's state and listens on its ports; Serve
// then serves them.
func Open(ctx context.Context, opts Options) (*Master, error) {
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 2 * time.Second
	}
	if opts.HeartbeatTimeout == 0 {
		opts.HeartbeatTimeout = 10 * time.Second
	}
	lock, err := lockStateDir(opts.StateDir)
	if err != nil {
		return nil, err
	}
	m, err := open(ctx, opts)
	if err != nil {
		lock.Close()
		return nil, err
	}
	m.lock = lock
	return m, nil
}

// lockStateDir makes sure one master at a time uses a state folder: two
// would corrupt each other's history.
func lockStateDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another master is using the state folder %s (%v)", dir, err)
	}
	return f, nil
}

func open(ctx context.Context, opts Options) (*Master, error) {
	ca, created, err := pki.LoadOrCreateCA(opts.StateDir + "/ca")
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	if created {
		opts.Log.Info("created the master's certificate authority", "fingerprint", ca.Fingerprint().String())
	} else {
		opts.Log.Info("certificate authority loaded", "fingerprint", ca.Fingerprint().String())
	}
	tlsConf, err := ca.ServerTLS(opts.StateDir+"/ca", certHosts(opts)...)
	if err != nil {
		return nil, fmt.Errorf("master certificate: %w", err)
	}
	st, err := openHistory(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if ids, err := st.InterruptUnfinished(ctx, "the master stopped while the session was queued or running"); err != nil {
		st.Close()
		return nil, fmt.Errorf("history: %w", err)
	} else if len(ids) > 0 {
		opts.Log.Warn("sessions left unfinished by the previous master marked interrupted", "sessions", ids)
		closeInterrupted(ctx, st, ids, opts.Log)
	}
	testCA, err := openTestCA(opts.TestCACertFile, opts.TestCAKeyFile, filepath.Join(opts.StateDir, "test-ca"))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("the suites' test CA ([security] ca_certfile, ca_keyfile): %w", err)
	}
	m := &Master{CA: ca, Store: st, Registry: NewRegistry(), opts: opts}
	m.testCreds = &testCredentials{ca: testCA, keytab: filepath.Join(opts.StateDir, "test-ca", "sss.keytab"),
		allowed: m.fromDaemonOrToken, log: opts.Log}
	if opts.ReconnectGrace > 0 {
		m.Registry.Grace = opts.ReconnectGrace
	}
	sc := opts.Schedule
	if sc.Log == nil {
		sc.Log = opts.Log
	}
	m.Manager = &Manager{Store: st, Registry: m.Registry, Definitions: m.Definitions, Settings: opts.Settings, Log: opts.Log}
	m.Scheduler = scheduler.New(sc, managerStarter{m.Manager}, st)
	m.Manager.Ended = m.sessionEnded
	if err := m.initRepos(); err != nil {
		st.Close()
		return nil, err
	}
	m.Changes = &Changes{}
	m.Manager.Changed = m.Changes.Publish
	m.Metrics = newMetrics(st, m.Manager, m.Registry, opts.Version, opts.Log)
	m.Manager.CaseEnded = m.caseEnded
	m.loadCheckouts(ctx)
	if opts.Clusters == nil && opts.StartClusters {
		hv := &Hypervisors{Registry: m.Registry}
		m.Registry.clusterStates, m.Registry.hypervisorConnected = hv.clusterState, hv.adopt
		opts.Clusters = hv
	}
	tokens := &OneTimeTokens{}
	m.Manager.Clusters, m.Manager.Tokens = opts.Clusters, tokens

	if m.daemonLn, err = net.Listen("tcp", opts.DaemonAddr); err != nil {
		st.Close()
		return nil, fmt.Errorf("daemon port: %w", err)
	}
	if m.webLn, err = net.Listen("tcp", opts.WebAddr); err != nil {
		m.daemonLn.Close()
		st.Close()
		return nil, fmt.Errorf("web port: %w", err)
	}
	if opts.WebTLS {
		wt, err := webTLS(tlsConf, opts.WebCertFile, opts.WebKeyFile)
		if err != nil {
			m.daemonLn.Close()
			m.webLn.Close()
			st.Close()
			return nil, err
		}
		m.webLn = tls.NewListener(m.webLn, wt)
	}
	m.Manager.Endpoint = hypervisor.MasterEndpoint{Port: m.daemonLn.Addr().(*net.TCPAddr).Port, Fingerprint: ca.Fingerprint()}
	srv := &Server{CA: ca, Token: func() string { return opts.Token }, Tokens: tokens, Registry: m.Registry, Log: opts.Log,
		Version: opts.Version, Heartbeat: opts.Heartbeat, HeartbeatTimeout: opts.HeartbeatTimeout}
	// Transport keepalives end a dead connection even when a send is
	// blocked by flow control and no heartbeat can be checked.
	m.grpcServer = grpc.NewServer(append(protocol.ServerOptions(), grpc.Creds(loggedTLS{credentials.NewTLS(tlsConf), opts.Log}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * opts.Heartbeat, Timeout: opts.HeartbeatTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: opts.Heartbeat / 2, PermitWithoutStream: true}))...)
	protocol.RegisterMasterServer(m.grpcServer, srv)
	api := &API{Manager: m.Manager, Scheduler: m.Scheduler, Registry: m.Registry, Store: st, Tokens: opts.apiTokens, Version: opts.Version, Started: time.Now(),
		Reload: m.ReloadReport, LastReload: m.LastReload, Log: opts.Log}
	m.views = api.views()
	var ui WebUI
	if opts.WebUI != nil {
		if ui, err = opts.WebUI(m); err != nil {
			m.daemonLn.Close()
			m.webLn.Close()
			st.Close()
			return nil, fmt.Errorf("web pages: %w", err)
		}
	}
	m.httpServer = &http.Server{Handler: m.routes(api, ui), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn), TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	m.firstSync(ctx)
	return m, nil
}

// managerStarter lets the scheduler start sessions.
type managerStarter struct{ m *Manager }

func (s managerStarter) Start(ctx context.Context, suite string, cases []string, by string) (int64, error) {
	se, err := s.m.Start(ctx, suite, cases, by)
	if err != nil {
		return 0, err
	}
	return se.ID, nil
}

func (s managerStarter) Running(suite string) bool { return s.m.Running(suite) }

// sessionEnded lets a queued scheduled run start, and sends the session's
// alert mail if the suite asks for one.
func (m *Master) sessionEnded(s *store.Session, suite *definition.Suite) {
	m.Scheduler.SessionEnded(suite.Name)
	if m.opts.Notifier == nil || len(suite.AlertEmails) == 0 {
		return
	}
	ctx := context.Background()
	d, err := Detail(ctx, m.Store, s.ID)
	if err != nil {
		m.opts.Log.Error("alert mails: cannot read the session", "session", s.ID, "err", err)
		return
	}
	rep := notify.SessionReport{Session: d.Session}
	for _, st := range d.Stages {
		sr := notify.StageReport{Stage: st.Stage, Results: st.Results, OutputTail: map[string]string{}}
		for _, r := range st.Results {
			if r.Status == store.StatusFailed || r.Status == store.StatusTimeout || r.Status == store.StatusLost {
				sr.OutputTail[r.Slave] = outputTail(m.Store, s.ID, st.Index, r.Slave, 8<<10)
			}
		}
		rep.Stages = append(rep.Stages, sr)
	}
	// The CASE mails went out as each case ended (caseEnded).
	notify.NotifyAll(ctx, m.opts.Notifier, notify.SessionMails(suite, rep, m.opts.BaseURL))
}

// outputTail returns at most max bytes from the end of a stage's output.
func outputTail(st store.Store, session int64, stage int, slave string, max int64) string {
	f, err := st.OpenOutput(session, stage, slave)
	if err != nil {
		return ""
	}
	defer f.Close()
	if end, err := f.Seek(0, io.SeekEnd); err == nil && end > max {
		f.Seek(-max, io.SeekEnd)
	} else {
		f.Seek(0, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, max))
	return string(b)
}

// closeInterrupted ends the results an interrupted session left running:
// their scripts are cancelled when the slaves reconnect (Registry.resume),
// and nothing of them runs again.
func closeInterrupted(ctx context.Context, st store.Store, ids []int64, log *slog.Logger) {
	for _, id := range ids {
		results, err := st.Results(ctx, id)
		if err != nil {
			log.Error("cannot read an interrupted session", "session", id, "err", err)
			continue
		}
		for _, r := range results {
			if r.Status == store.StatusRunning || r.Status == store.StatusPending {
				r.Status, r.Message, r.End = store.StatusCancelled, "interrupted: the master stopped during the stage", time.Now()
				if err := st.PutResult(ctx, r); err != nil {
					log.Error("cannot close an interrupted result", "session", id, "err", err)
				}
			}
		}
		if err := closeUnrecorded(ctx, st, id, results); err != nil {
			log.Error("cannot close an interrupted stage", "session", id, "err", err)
		}
	}
}

// Views builds what the web pages and the API show.
func (m *Master) Views() *Views { return m.views }

// Options returns the options the master was opened with.
func (m *Master) Options() Options { return m.opts }

// DaemonAddr is the address daemons connect to.
func (m *Master) DaemonAddr() net.Addr { return m.daemonLn.Addr() }

// WebAddr is the address of the API.
func (m *Master) WebAddr() net.Addr { return m.webLn.Addr() }

// Definitions returns the definitions loaded last.
func (m *Master) Definitions() *definition.Set { return m.defs.Load() }

// Serve serves until ctx ends, then stops the scheduler, the sessions
// (they end interrupted, see Close), the ports and the history.
func (m *Master) Serve(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- m.grpcServer.Serve(m.daemonLn) }()
	go func() {
		if err := m.httpServer.Serve(m.webLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	m.opts.Log.Info("master serving", "daemons", m.DaemonAddr().String(), "api", m.WebAddr().String())
	// The scheduler and the watcher stop when Serve returns, whatever
	// ended it (the deferred cancel runs before the waits).
	bg, stopBg := context.WithCancel(ctx)
	var bgWait sync.WaitGroup
	defer bgWait.Wait()
	defer stopBg()
	bgWait.Add(1)
	go func() { defer bgWait.Done(); m.Scheduler.Run(bg) }()
	m.pollGit(bg, &bgWait)
	bgWait.Add(1)
	go func() { defer bgWait.Done(); m.runRetention(bg) }()
	if w, ok := m.Store.(lockWatcher); ok {
		// A master that lost its database to another stops: both would
		// interrupt each other's sessions.
		bgWait.Add(1)
		go func() {
			defer bgWait.Done()
			if err := w.WatchLock(bg, lockCheckInterval, m.opts.Log); err != nil {
				errc <- err
			}
		}()
	}
	if m.opts.ReloadDebounce >= 0 {
		debounce := cmp.Or(m.opts.ReloadDebounce, 500*time.Millisecond)
		bgWait.Add(1)
		go func() {
			defer bgWait.Done()
			if err := m.watch(bg, debounce); err != nil {
				m.opts.Log.Warn("definitions are not watched: reload by restarting", "err", err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// No new sessions from the scheduler from now on.
	stopBg()
	bgWait.Wait()
	m.Close()
	return err
}

// lockWatcher is a history that only one master may use at a time and
// whose lock can be lost (store.Postgres).
type lockWatcher interface {
	WatchLock(ctx context.Context, interval time.Duration, log *slog.Logger) error
}

// lockCheckInterval is how often the history's one-master lock is checked.
const lockCheckInterval = 5 * time.Second

// Close stops everything. The sessions still running are interrupted
// first (Manager.Shutdown) while the daemons are still connected to
// confirm their cancelled stages, within Options.ShutdownTimeout; a
// session that did not end by then is marked interrupted at the next
// start.
func (m *Master) Close() {
	m.stopFirstSync()
	timeout := cmp.Or(m.opts.ShutdownTimeout, 20*time.Second)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !m.Manager.Shutdown(sctx) {
		m.opts.Log.Warn("sessions still running at the end of the shutdown timeout: the next start marks them interrupted", "timeout", timeout)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	if m.httpServer.Shutdown(hctx) != nil {
		m.httpServer.Close() // followers of live output do not end by themselves
	}
	stopped := make(chan struct{})
	go func() { m.grpcServer.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		m.grpcServer.Stop() // daemon streams never end by themselves
	}
	if err := m.Store.Close(); err != nil {
		m.opts.Log.Error("closing the history", "err", err)
	}
	m.lock.Close()
}

// loggedTLS logs failed handshakes: a daemon with a wrong CA pin or a
// certificate of another CA is refused during the TLS handshake, before
// any RPC, and the master's log should say so.
type loggedTLS struct {
	credentials.TransportCredentials
	log *slog.Logger
}

func (c loggedTLS) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	nc, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.log.Warn("TLS handshake with a daemon failed", "addr", conn.RemoteAddr().String(), "err", err)
	}
	return nc, info, err
}

func (c loggedTLS) Clone() credentials.TransportCredentials {
	return loggedTLS{c.TransportCredentials.Clone(), c.log}
}
