package master

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xrdtest/xrdtest/internal/views"

	"golang.org/x/sys/unix"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/xrdtest/xrdtest/internal/catalog"
	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/faults"
	"github.com/xrdtest/xrdtest/internal/httpapi"
	"github.com/xrdtest/xrdtest/internal/hypervisor"
	"github.com/xrdtest/xrdtest/internal/notify"
	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/protocol"
	"github.com/xrdtest/xrdtest/internal/scheduler"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/throttle"
	"github.com/xrdtest/xrdtest/internal/web"
)

// Options configure a master.
type Options struct {
	StateDir   string // CA, history database, outputs
	Database   string // PostgreSQL URL of the history, see postgres.Open ("": SQLite in StateDir)
	DaemonAddr string // where daemons connect (gRPC, mutual TLS)
	WebAddr    string // the JSON API
	Token      string // the connection token daemons enroll with
	APIToken   string // the token API actions need ("" and no APITokens: actions disabled)
	// APITokens are more tokens of the API, each with its holder's name.
	APITokens []httpapi.APIToken
	Repos     []definition.Repo
	// Settings are the sessions' defaults; a zero WebPort (@port@) is the
	// web port as it listens, an empty WebProto (@proto@) follows WebTLS.
	Settings session.Settings
	// Clusters starts the suites' clusters; nil with StartClusters: the
	// connected hypervisor daemons; nil without: none (the slaves of
	// physical machines connect by themselves).
	Clusters      hypervisor.Backend
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
	Git []catalog.GitRepo
	// GitStartWait bounds how long Open waits for the first fetch of the
	// git repositories before it goes on with the checkouts it has; the
	// fetch goes on in the background (0: catalog.DefaultGitStartWait;
	// negative: no wait).
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
	// StateDir/test-ca, created at the first start. See
	// httpapi.TestCredentials.
	TestCACertFile, TestCAKeyFile string
	// WebpageDir is where /showScript looks first ([webserver]
	// webpage_dir; "": only the repositories).
	WebpageDir string
	// Pages serves the web pages beside the API (nil: the API only).
	Pages *Pages
	// Retention limits the history kept (zero: everything).
	Retention store.Retention
	// WebLimits bound the web port's connections (zero fields: the
	// defaults of DefaultWebLimits).
	WebLimits WebLimits
	// DaemonLimits bound the daemon port's connections before they are
	// a daemon's (zero fields: DefaultDaemonLimits').
	DaemonLimits DaemonLimits
}

// DaemonLimits bound what a client that is no daemon yet can hold of the
// daemon port: anyone reaching the port can open TLS connections.
type DaemonLimits struct {
	// Handshake bounds the TLS handshake and the HTTP/2 preface.
	Handshake time.Duration
	// Hello bounds the wait for a stream's first message.
	Hello time.Duration
	// Idle closes a connection without a stream (an enrollment's, once
	// done, or one that never makes a call).
	Idle time.Duration
}

// DefaultDaemonLimits are the limits a zero field of DaemonLimits takes.
var DefaultDaemonLimits = DaemonLimits{Handshake: 10 * time.Second, Hello: daemons.DefaultHelloTimeout, Idle: time.Minute}

// WebLimits bound what a client can hold of the web port. Streams (live
// output, Server-Sent Events, followed output) are exempt from the read
// and write timeouts, and bounded in number instead.
type WebLimits struct {
	// ReadHeader and Read bound the reading of a request's header and
	// of the whole request, body included: a client that trickles its
	// request cannot hold a connection.
	ReadHeader, Read time.Duration
	// Write bounds the writing of an answer (not of a stream).
	Write time.Duration
	// Idle bounds how long a keep-alive connection waits for its next
	// request.
	Idle time.Duration
	// StreamsPerClient and Streams bound the open streams of one client
	// address and of all.
	StreamsPerClient, Streams int
	// ShellIdle ends a shell without input or output for so long,
	// ShellLifetime one open for so long.
	ShellIdle, ShellLifetime time.Duration
}

// DefaultWebLimits are the limits a zero field of WebLimits takes: an
// action such as a reload that fetches git repositories fits in Write.
var DefaultWebLimits = WebLimits{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 2 * time.Minute,
	Idle: 30 * time.Second, StreamsPerClient: httpapi.DefaultStreamsPerClient, Streams: httpapi.DefaultStreams,
	ShellIdle: httpapi.DefaultShellIdle, ShellLifetime: httpapi.DefaultShellLifetime}

// orDefault fills the zero fields of l with DefaultWebLimits'.
func (l WebLimits) orDefault() WebLimits {
	d := DefaultWebLimits
	return WebLimits{ReadHeader: cmp.Or(l.ReadHeader, d.ReadHeader), Read: cmp.Or(l.Read, d.Read), Write: cmp.Or(l.Write, d.Write),
		Idle: cmp.Or(l.Idle, d.Idle), StreamsPerClient: cmp.Or(l.StreamsPerClient, d.StreamsPerClient), Streams: cmp.Or(l.Streams, d.Streams),
		ShellIdle: cmp.Or(l.ShellIdle, d.ShellIdle), ShellLifetime: cmp.Or(l.ShellLifetime, d.ShellLifetime)}
}

// Pages configures the web pages.
type Pages struct {
	// Password is the login password (suite_run_pass); "" disables the
	// login and every action of the pages.
	Password string
	// Public: the read-only pages and API reads need no login.
	Public bool
	// KeyFile keeps the key that signs the login cookies ("": a new key
	// at every start).
	KeyFile string
}

// Master is an assembled master: it owns the parts below, made in Open
// in dependency order, and closes them in the reverse order.
type Master struct {
	CA        *pki.CA
	Store     store.Store
	Catalog   *catalog.Catalog
	Registry  *daemons.Registry
	Manager   *session.Manager
	Scheduler *scheduler.Scheduler
	Changes   *httpapi.Changes // tells live views which sessions changed
	Metrics   *httpapi.Metrics
	opts      Options

	daemonLn, webLn net.Listener
	grpcServer      *grpc.Server
	httpServer      *http.Server
	// closers undo Open, in reverse order: Close, or Open when it fails.
	closers []func()
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
	m := &Master{opts: opts}
	m.onClose(func() { lock.Close() })
	if err := m.open(ctx); err != nil {
		m.undo() // what open made, newest first
		return nil, err
	}
	return m, nil
}

// onClose pushes f on the stack Close runs.
func (m *Master) onClose(f func()) { m.closers = append(m.closers, f) }

// undo runs the close stack, newest first.
func (m *Master) undo() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
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

func (m *Master) open(ctx context.Context) error {
	opts := m.opts
	ca, created, err := pki.LoadOrCreateCA(opts.StateDir + "/ca")
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}
	if created {
		opts.Log.Info("created the master's certificate authority", "fingerprint", ca.Fingerprint().String())
	} else {
		opts.Log.Info("certificate authority loaded", "fingerprint", ca.Fingerprint().String())
	}
	m.CA = ca
	tlsConf, err := ca.ServerTLS(opts.StateDir+"/ca", certHosts(opts)...)
	if err != nil {
		return fmt.Errorf("master certificate: %w", err)
	}
	if err := m.openHistory(ctx); err != nil {
		return err
	}
	if err := m.listen(tlsConf); err != nil {
		return err
	}
	tokens := &daemons.OneTimeTokens{}
	if err := m.openSessions(tokens); err != nil {
		return err
	}
	m.serveDaemons(tlsConf, tokens)
	if err := m.serveWeb(); err != nil {
		return err
	}
	// Sessions still running are interrupted first, while the daemons are
	// still connected to confirm their cancelled stages.
	m.onClose(m.stopSessions)

	// The definitions: the checkouts as they are, then the first fetch of
	// the git repositories (bounded wait, then in the background).
	m.Catalog.Start(ctx)
	m.onClose(m.Catalog.Close)
	// The sessions the previous master left held go on being held, with
	// the definitions just loaded, before anything else may start.
	keep, err := m.Manager.ResumeHeld(ctx)
	if err != nil {
		return err
	}
	if h := m.Registry.Hypervisors(); h != nil {
		h.Keep(keep...)
	}
	return nil
}

// openHistory opens the history and closes what the previous master left
// unfinished.
func (m *Master) openHistory(ctx context.Context) error {
	opts := m.opts
	var err error
	if m.Store, err = openStore(ctx, opts); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	m.onClose(func() {
		if err := m.Store.Close(); err != nil {
			opts.Log.Error("closing the history", "err", err)
		}
	})
	if ids, err := m.Store.InterruptUnfinished(ctx, "the master stopped while the session was queued or running"); err != nil {
		return fmt.Errorf("history: %w", err)
	} else if len(ids) > 0 {
		opts.Log.Warn("sessions left unfinished by the previous master marked interrupted", "sessions", ids)
		session.CloseInterrupted(ctx, m.Store, ids, opts.Log)
	}
	return nil
}

// listen opens the daemon port and the web port.
func (m *Master) listen(tlsConf *tls.Config) error {
	opts := m.opts
	var err error
	if m.daemonLn, err = net.Listen("tcp", opts.DaemonAddr); err != nil {
		return fmt.Errorf("daemon port: %w", err)
	}
	m.onClose(func() { m.daemonLn.Close() })
	if m.webLn, err = net.Listen("tcp", opts.WebAddr); err != nil {
		return fmt.Errorf("web port: %w", err)
	}
	m.onClose(func() { m.webLn.Close() })
	if opts.WebTLS {
		wt, err := webTLS(tlsConf, opts.WebCertFile, opts.WebKeyFile)
		if err != nil {
			return err
		}
		m.webLn = tls.NewListener(m.webLn, wt)
	}
	return nil
}

// openSessions makes the definitions' catalog, the daemons' registry, the
// session manager and the scheduler.
func (m *Master) openSessions(tokens *daemons.OneTimeTokens) error {
	opts := m.opts
	var err error
	if m.Catalog, err = catalog.New(catalog.Config{Repos: opts.Repos, Git: opts.Git, GitStartWait: opts.GitStartWait,
		Loaded:      func(set *definition.Set) { m.Scheduler.SetSuites(set.Suites) },
		ManifestDir: filepath.Join(opts.StateDir, "revisions"), Log: opts.Log}); err != nil {
		return err
	}
	// The daemons' registry dispatches the sessions' stages and passes the
	// scripts' sync and fault calls to the hubs the sessions drive.
	hub, faultHub := session.NewSyncHub(), faults.NewHub()
	m.Registry = daemons.NewRegistry(daemons.RegistryConfig{Sync: hub, Faults: faultHub, Grace: opts.ReconnectGrace,
		Hypervisors: opts.Clusters == nil && opts.StartClusters})
	clusters := opts.Clusters
	if h := m.Registry.Hypervisors(); h != nil {
		clusters = h
	}
	m.Changes = &httpapi.Changes{}
	m.Metrics = httpapi.NewMetrics(m.Store, m.Registry, func() int { return m.Manager.InProgress() }, opts.Version, opts.Log)
	alerts := &notify.Alerts{Store: m.Store, Notifier: opts.Notifier, BaseURL: opts.BaseURL, Log: opts.Log}
	// The machines reach both ports as master.xrd.test; @port@ and
	// @proto@ default to the web port as it listens.
	webPort := m.webLn.Addr().(*net.TCPAddr).Port
	settings := opts.Settings
	if settings.WebPort == 0 {
		settings.WebPort = webPort
	}
	if settings.WebProto == "" {
		settings.WebProto = map[bool]string{false: "http", true: "https"}[opts.WebTLS]
	}
	m.Manager = &session.Manager{Store: m.Store, Slaves: m.Registry, Sync: hub, Faults: faultHub, Definitions: m.Catalog.Definitions,
		Clusters: clusters, Tokens: tokens, Settings: settings, Log: opts.Log,
		Endpoint: hypervisor.MasterEndpoint{Port: m.daemonLn.Addr().(*net.TCPAddr).Port, WebPort: webPort, Fingerprint: m.CA.Fingerprint()},
		Changed:  m.Changes.Publish, ObserveStage: m.Metrics.StageEnded, CaseEnded: alerts.CaseEnded,
		Ended: func(s *store.Session, suite *definition.Suite) {
			m.Scheduler.SessionEnded(suite.Name) // a queued scheduled run may start
			alerts.SessionEnded(s, suite)
		}}
	sc := opts.Schedule
	sc.Log = cmp.Or(sc.Log, opts.Log)
	m.Scheduler = scheduler.New(sc, managerStarter{m.Manager}, m.Store)
	return nil
}

// serveDaemons makes the daemon port's gRPC service.
func (m *Master) serveDaemons(tlsConf *tls.Config, tokens *daemons.OneTimeTokens) {
	opts, ca := m.opts, m.CA
	srv := &daemons.Server{CA: ca, Token: func() string { return opts.Token }, Tokens: tokens, Registry: m.Registry, Log: opts.Log,
		Guesses: throttle.New(), Version: opts.Version, Heartbeat: opts.Heartbeat, HeartbeatTimeout: opts.HeartbeatTimeout,
		HelloTimeout: cmp.Or(opts.DaemonLimits.Hello, DefaultDaemonLimits.Hello)}
	// Transport keepalives end a dead connection even when a send is
	// blocked by flow control and no heartbeat can be checked.
	m.grpcServer = grpc.NewServer(append(protocol.ServerOptions(), grpc.Creds(daemons.LoggedTLS(credentials.NewTLS(tlsConf), opts.Log)),
		grpc.ConnectionTimeout(cmp.Or(opts.DaemonLimits.Handshake, DefaultDaemonLimits.Handshake)),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * opts.Heartbeat, Timeout: opts.HeartbeatTimeout,
			MaxConnectionIdle: cmp.Or(opts.DaemonLimits.Idle, DefaultDaemonLimits.Idle)}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: opts.Heartbeat / 2, PermitWithoutStream: true}))...)
	protocol.RegisterMasterServer(m.grpcServer, srv)
	m.onClose(m.stopGRPC)
}

// serveWeb makes the web port's handler: the API, the pages, /metrics,
// the scripts and the test credentials.
func (m *Master) serveWeb() error {
	opts := m.opts
	// One count of failed guesses per address for the web port: logins
	// and API tokens alike.
	guesses := throttle.New()
	limits := opts.WebLimits.orDefault()
	streams := &httpapi.Streams{PerClient: limits.StreamsPerClient, Total: limits.Streams}
	bearer := &httpapi.Bearer{Tokens: httpapi.Tokens(opts.APIToken, opts.APITokens), Guesses: guesses, Log: opts.Log}
	testCreds, err := httpapi.OpenTestCredentials(opts.TestCACertFile, opts.TestCAKeyFile, filepath.Join(opts.StateDir, "test-ca"),
		httpapi.DaemonOrToken(m.Registry, bearer), opts.Log)
	if err != nil {
		return fmt.Errorf("the suites' test CA ([security] ca_certfile, ca_keyfile): %w", err)
	}
	actions := &httpapi.Actions{Manager: m.Manager, Store: m.Store, Scheduler: m.Scheduler, Reload: m.Catalog.Reload,
		Daemons: m.Registry, Streams: streams, ShellIdle: limits.ShellIdle, ShellLifetime: limits.ShellLifetime, Log: opts.Log}
	started := time.Now()
	v := &views.Views{Manager: m.Manager, Registry: m.Registry, Scheduler: m.Scheduler, Store: m.Store, Version: opts.Version,
		Started: started, LastReload: m.Catalog.LastReload, Changes: m.Catalog.Changes}
	api := &httpapi.API{Manager: m.Manager, Scheduler: m.Scheduler, Registry: m.Registry, Store: m.Store, Views: v, Actions: actions,
		Bearer: bearer, Streams: streams, Version: opts.Version, Started: started,
		LastReload: m.Catalog.LastReload, Log: opts.Log}
	site := &httpapi.Site{API: api, Metrics: m.Metrics, TestCredentials: testCreds, Repos: opts.Repos, WebpageDir: opts.WebpageDir,
		Hosts: certHosts(opts), Log: opts.Log}
	if opts.Pages != nil {
		ui, err := web.New(m.pagesConfig(*opts.Pages, v, actions, bearer, streams))
		if err != nil {
			return fmt.Errorf("web pages: %w", err)
		}
		site.UI = ui
	}
	m.httpServer = &http.Server{Handler: site.Handler(), ReadHeaderTimeout: limits.ReadHeader, ReadTimeout: limits.Read,
		WriteTimeout: limits.Write, IdleTimeout: limits.Idle,
		ErrorLog: slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn), TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	m.onClose(m.stopHTTP)
	return nil
}

// pagesConfig configures the web pages over the master's parts.
func (m *Master) pagesConfig(p Pages, v *views.Views, actions *httpapi.Actions, bearer *httpapi.Bearer, streams *httpapi.Streams) web.Config {
	return web.Config{Views: v, Actions: actions, Store: m.Store, Changes: m.Changes, Registry: m.Registry,
		Definitions: m.Catalog.Definitions, Password: func() string { return p.Password },
		APIIdentity: bearer.Identity, Guesses: bearer.Guesses, Streams: streams,
		Public: p.Public, Secure: m.opts.WebTLS, KeyFile: p.KeyFile, Log: m.opts.Log,
		// Machines that connect by themselves have no cluster to stop.
		StopClusters: m.Manager.Clusters != nil}
}

// managerStarter lets the scheduler start sessions.
type managerStarter struct{ m *session.Manager }

func (s managerStarter) Start(ctx context.Context, suite string, cases []string, by string) (int64, error) {
	se, err := s.m.Start(ctx, suite, cases, by)
	if err != nil {
		return 0, err
	}
	return se.ID, nil
}

func (s managerStarter) Running(suite string) bool { return s.m.Running(suite) }

// DaemonAddr is the address daemons connect to.
func (m *Master) DaemonAddr() net.Addr { return m.daemonLn.Addr() }

// WebAddr is the address of the API.
func (m *Master) WebAddr() net.Addr { return m.webLn.Addr() }

// Definitions returns the definitions loaded last.
func (m *Master) Definitions() *definition.Set { return m.Catalog.Definitions() }

// Reload fetches the git repositories and loads the definitions again;
// running sessions keep the definitions they started with.
func (m *Master) Reload(ctx context.Context) *definition.Set {
	m.Catalog.Reload(ctx)
	return m.Catalog.Definitions()
}

// LastReload reports the definitions loaded last.
func (m *Master) LastReload() *catalog.ReloadReport { return m.Catalog.LastReload() }

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
	bgWait.Add(3)
	go func() { defer bgWait.Done(); m.Scheduler.Run(bg) }()
	go func() { defer bgWait.Done(); m.Catalog.Run(bg, m.opts.ReloadDebounce) }()
	go func() { defer bgWait.Done(); store.RunRetention(bg, m.Store, m.opts.Retention, m.opts.Log) }()
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
// whose lock can be lost (postgres.Store).
type lockWatcher interface {
	WatchLock(ctx context.Context, interval time.Duration, log *slog.Logger) error
}

// lockCheckInterval is how often the history's one-master lock is checked.
const lockCheckInterval = 5 * time.Second

// Close stops everything: the first fetch of the definitions if it is
// still under way, then the sessions still running are interrupted
// (Manager.Shutdown) while the daemons are still connected to confirm
// their cancelled stages, within Options.ShutdownTimeout (a session that
// did not end by then is marked interrupted at the next start), then the
// ports, the history and the state folder's lock.
func (m *Master) Close() { m.undo() }

func (m *Master) stopSessions() {
	timeout := cmp.Or(m.opts.ShutdownTimeout, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !m.Manager.Shutdown(ctx) {
		m.opts.Log.Warn("sessions still running at the end of the shutdown timeout: the next start marks them interrupted", "timeout", timeout)
	}
}

func (m *Master) stopHTTP() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if m.httpServer.Shutdown(ctx) != nil {
		m.httpServer.Close() // followers of live output do not end by themselves
	}
}

func (m *Master) stopGRPC() {
	stopped := make(chan struct{})
	go func() { m.grpcServer.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		m.grpcServer.Stop() // daemon streams never end by themselves
	}
}
