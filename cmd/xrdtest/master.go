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
	c := newDaemonCommand("master", "usage: xrdtest master [-c FILE] [--set section.key=value]...\n\nRuns the master daemon in the foreground: daemons connect to its daemon port,\nthe JSON API is on its web port. The configuration is the original\nXrdTestMaster.conf, plus the keys documented in internal/config.", stdout, stderr)
	file := c.String("c", "", "configuration `file` (default "+config.DefaultMasterFile+" when it exists; \"none\": no file)")
	var sets setFlags
	c.Var(&sets, "set", "override a key: `section.key=value` (repeatable); XRDTEST_SECTION_KEY variables work too")
	stateDir := c.String("state-dir", "", "the master's state folder ([general] state_dir)")
	port := c.String("port", "", "daemon port ([server] port)")
	webPort := c.String("web-port", "", "web port ([webserver] port)")
	ip := c.String("ip", "", "listening address ([server] ip)")
	logFormat := c.String("log-format", "", "text or json ([daemon] log_format)")
	if code, ok := c.parse(args); !ok {
		return code
	}
	cfg := config.DefaultMaster()
	named := map[string]string{"general.state_dir": *stateDir, "server.port": *port, "webserver.port": *webPort, "server.ip": *ip, "daemon.log_format": *logFormat}
	load := func() error { return loadDaemonConfig(cfg, *file, config.DefaultMasterFile, sets, named, stderr) }
	proc, code, ok := c.start(load, &cfg.Daemon)
	if !ok {
		return code
	}
	defer proc.Close()
	log := proc.Log
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
		return c.fail(2, "[webserver] api_tokens: %v", err)
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
			WebPort: webPortN, WebProto: cfg.Webserver.Protocol, LogMaxBytes: 16 << 20,
			MaxHold: cfg.Session.MaxHold},
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
		if proc.LogsToFile() {
			log.Error("cannot start", "err", err)
		}
		return c.fail(1, "%v", err)
	}
	// SIGHUP: the log file is reopened and the definitions reloaded.
	proc.HandleHangups(ctx, func() {
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
