package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when XRDTEST_PPROF is set
	"os"
	"strconv"
	"time"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/notify"
	"github.com/xrdtest/xrdtest/internal/scheduler"
)

func runMaster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration `file` (default "+config.DefaultMasterFile+" when it exists; \"none\": no file)")
	var sets setFlags
	fs.Var(&sets, "set", "override a key: `section.key=value` (repeatable); XRDTEST_SECTION_KEY variables work too")
	stateDir := fs.String("state-dir", "", "the master's state folder ([general] state_dir)")
	port := fs.String("port", "", "daemon port ([server] port)")
	webPort := fs.String("web-port", "", "web port ([webserver] port)")
	ip := fs.String("ip", "", "listening address ([server] ip)")
	logFormat := fs.String("log-format", "text", "text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xrdtest master [-c FILE] [--set section.key=value]...\n\nRuns the master daemon in the foreground: daemons connect to its daemon port,\nthe JSON API is on its web port. The configuration is the original\nXrdTestMaster.conf, plus the keys documented in internal/config.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := config.DefaultMaster()
	named := map[string]string{"general.state_dir": *stateDir, "server.port": *port, "webserver.port": *webPort, "server.ip": *ip}
	if err := loadDaemonConfig(cfg, *file, config.DefaultMasterFile, sets, named, stderr); err != nil {
		fmt.Fprintf(stderr, "xrdtest master: configuration: %v\n", err)
		return 2
	}
	log, err := newLogger(stderr, string(cfg.Daemon.LogLevel), *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest master: %v\n", err)
		return 2
	}
	var repos []definition.Repo
	for _, r := range cfg.Repos {
		if r.Type != config.RepoLocalFS {
			log.Warn("repository type not supported yet: skipped", "repo", r.Name, "type", r.Type)
			continue
		}
		repos = append(repos, definition.Repo{Root: r.LocalPath, ClusterDir: r.ClusterDefsPath, SuiteDir: r.SuiteDefsPath})
	}
	apiToken := cfg.Webserver.APIToken.Reveal()
	if apiToken == "" {
		apiToken = cfg.Webserver.SuiteRunPass.Reveal()
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
		StateDir:   cfg.General.StateDir,
		Database:   cfg.General.Database.Reveal(),
		DaemonAddr: net.JoinHostPort(cfg.Server.IP, strconv.Itoa(cfg.Server.Port)),
		WebAddr:    net.JoinHostPort(cfg.Server.IP, strconv.Itoa(webPortN)),
		Token:      cfg.Server.ConnectionPasswd.Reveal(),
		APIToken:   apiToken,
		Repos:      repos,
		Settings: master.SessionSettings{StageTimeout: cfg.Session.StageTimeout, KillGrace: 10 * time.Second, SlaveWait: cfg.Session.SlaveWaitTimeout,
			WebPort: webPortN, WebProto: cfg.Webserver.Protocol, LogMaxBytes: 16 << 20},
		StartClusters: cfg.Session.StartClusters,
		Schedule:      scheduler.Config{Enabled: cfg.Scheduler.Enabled, Overlap: scheduler.Overlap(cfg.Scheduler.Overlap), Location: time.Local},
		Notifier:      mailer,
		Retention:     master.Retention{MaxAge: cfg.Retention.MaxAge, MaxSessions: cfg.Retention.MaxSessions},
		BaseURL:       baseURL,
		Heartbeat:     cfg.Session.HeartbeatInterval, HeartbeatTimeout: cfg.Session.HeartbeatTimeout, ReconnectGrace: cfg.Session.ReconnectGrace,
		Log: log, Version: version,
	})
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest master: %v\n", err)
		return 1
	}
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
