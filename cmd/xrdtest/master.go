package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when XRDTEST_PPROF is set
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xrdtest/xrdtest/internal/catalog"
	"github.com/xrdtest/xrdtest/internal/httpapi"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/notify"
	"github.com/xrdtest/xrdtest/internal/repo"
	"github.com/xrdtest/xrdtest/internal/scheduler"
)

func runMaster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("master", "", stdout, stderr)
	file := fs.String("c", "", "configuration `file` (default "+config.DefaultMasterFile+" when it exists; \"none\": no file)")
	var sets setFlags
	fs.Var(&sets, "set", "override a key: `section.key=value` (repeatable); XRDTEST_SECTION_KEY variables work too")
	stateDir := fs.String("state-dir", "", "the master's state folder ([general] state_dir)")
	port := fs.String("port", "", "daemon port ([server] port)")
	webPort := fs.String("web-port", "", "web port ([webserver] port)")
	ip := fs.String("ip", "", "listening address ([server] ip)")
	logFormat := fs.String("log-format", "", "text or json ([daemon] log_format)")
	fs.usage = "usage: xrdtest master [-c FILE] [--set section.key=value]...\n\nRuns the master daemon in the foreground: daemons connect to its daemon port,\nthe JSON API is on its web port. The configuration is the original\nXrdTestMaster.conf, plus the keys documented in internal/config."
	if code, ok := fs.parse(args); !ok {
		return code
	}
	cfg := config.DefaultMaster()
	named := map[string]string{"general.state_dir": *stateDir, "server.port": *port, "webserver.port": *webPort, "server.ip": *ip, "daemon.log_format": *logFormat}
	if err := loadDaemonConfig(cfg, *file, config.DefaultMasterFile, sets, named, stderr); err != nil {
		fmt.Fprintf(stderr, "xrdtest master: configuration: %v\n", err)
		return 2
	}
	proc, err := startDaemon("master", cfg.Daemon, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest master: %v\n", err)
		return 1
	}
	defer proc.close()
	log := proc.log
	var repos []definition.Repo
	var gitRepos []catalog.GitRepo
	for _, r := range cfg.Repos {
		repos = append(repos, definition.Repo{Name: r.Name, Root: r.LocalPath, ClusterDir: r.ClusterDefsPath, SuiteDir: r.SuiteDefsPath})
		if r.Type == config.RepoGit {
			gitRepos = append(gitRepos, catalog.GitRepo{Name: r.Name, Interval: r.PollInterval,
				Git: &repo.Git{URL: r.RemoteRepo, RemoteBranch: r.RemoteBranch, LocalBranch: r.LocalBranch, Dir: r.LocalPath}})
		}
	}
	apiToken := cfg.Webserver.APIToken.Reveal()
	if apiToken == "" {
		apiToken = cfg.Webserver.SuiteRunPass.Reveal()
	}
	namedTokens, err := cfg.Webserver.NamedTokens() // checked by the config's validation
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest master: [webserver] api_tokens: %v\n", err)
		return 2
	}
	var apiTokens []httpapi.APIToken
	for _, t := range namedTokens {
		apiTokens = append(apiTokens, httpapi.APIToken{Name: t.Name, Token: t.Token.Reveal()})
	}
	webPortN := cfg.Webserver.EffectivePort()
	baseURL := cfg.Webserver.BaseURL
	if baseURL == "" {
		host, _ := os.Hostname()
		baseURL = fmt.Sprintf("%s://%s", cfg.Webserver.Protocol, net.JoinHostPort(host, strconv.Itoa(webPortN)))
	}
	var mailer notify.Notifier
	if cfg.SMTP.Host != "" {
		smtp := notify.NewSMTP(notify.Config{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, TLS: cfg.SMTP.TLS,
			Username: cfg.SMTP.Username, Password: cfg.SMTP.Password.Reveal(), From: cfg.SMTP.From}, log)
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			smtp.Close(cctx)
		}()
		mailer = smtp
	}
	m, err := master.Open(ctx, master.Options{
		StateDir:    cfg.General.StateDir,
		Database:    cfg.General.Database.Reveal(),
		DaemonAddr:  net.JoinHostPort(cfg.Server.IP, strconv.Itoa(cfg.Server.Port)),
		WebAddr:     net.JoinHostPort(cfg.Server.IP, strconv.Itoa(webPortN)),
		Token:       cfg.Server.ConnectionPasswd.Reveal(),
		APIToken:    apiToken,
		APITokens:   apiTokens,
		WebCertFile: cfg.Security.CertFile, WebKeyFile: cfg.Security.KeyFile,
		TestCACertFile: cfg.Security.CACertFile, TestCAKeyFile: cfg.Security.CAKeyFile,
		WebpageDir: cfg.Webserver.WebpageDir,
		Repos:      repos,
		Git:        gitRepos,
		Settings: session.Settings{StageTimeout: cfg.Session.StageTimeout, KillGrace: 10 * time.Second, SlaveWait: cfg.Session.SlaveWaitTimeout,
			WebPort: webPortN, WebProto: cfg.Webserver.Protocol, LogMaxBytes: 16 << 20},
		StartClusters: cfg.Session.StartClusters,
		Schedule:      scheduler.Config{Enabled: cfg.Scheduler.Enabled, Overlap: scheduler.Overlap(cfg.Scheduler.Overlap), Location: time.Local},
		Notifier:      mailer,
		Retention:     store.Retention{MaxAge: cfg.Retention.MaxAge, MaxSessions: cfg.Retention.MaxSessions, OutputsMaxAge: cfg.Retention.OutputsMaxAge},
		BaseURL:       baseURL,
		Heartbeat:     cfg.Session.HeartbeatInterval, HeartbeatTimeout: cfg.Session.HeartbeatTimeout, ReconnectGrace: cfg.Session.ReconnectGrace,
		Log: log, Version: version,
		WebTLS: cfg.Webserver.Protocol == "https",
		Pages: &master.Pages{Password: cfg.Webserver.SuiteRunPass.Reveal(), Public: cfg.Webserver.PublicPages,
			KeyFile: filepath.Join(cfg.General.StateDir, "web-login-key")},
	})
	if err != nil {
		if proc.file != nil {
			log.Error("cannot start", "err", err)
		}
		fmt.Fprintf(stderr, "xrdtest master: %v\n", err)
		return 1
	}
	// SIGHUP: the log file is reopened and the definitions reloaded.
	proc.handleHangups(ctx, func() {
		log.Info("reloading the definitions (SIGHUP)")
		m.Reload(ctx)
	})
	fmt.Fprintf(stdout, "xrdtest master %s\nCA fingerprint (give it to slaves as --ca-fingerprint): %s\ndaemon port %s, web port %s\n",
		version, m.CA.Fingerprint(), m.DaemonAddr(), m.WebAddr())
	if cfg.Server.ConnectionPasswd == "" {
		log.Warn("no [server] connection_passwd: new daemons cannot enroll")
	}
	if addr := os.Getenv("XRDTEST_PPROF"); addr != "" {
		// Profiling for developers (bench/): never on by default.
		go func() {
			log.Warn("pprof server", "addr", addr, "err", http.ListenAndServe(addr, nil))
		}()
	}
	if err := m.Serve(ctx); err != nil {
		log.Error("master stopped", "err", err)
		return 1
	}
	return 0
}
