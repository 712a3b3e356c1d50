package main

import (
	"context"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/proctree"
	"github.com/xrdtest/xrdtest/internal/slave"
	"github.com/xrdtest/xrdtest/internal/slave/inhost"
)

func runSlave(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newDaemonCommand("slave", "usage: xrdtest slave [-c FILE] [--master HOST:PORT] [--name NAME] [options]\n\nRuns the slave daemon: connects to the master and runs the stage scripts it\nsends. The first start enrolls with the connection token ([test_master]\nconnection_passwd, or XRDTEST_TOKEN) and the master's CA fingerprint; later\nstarts use the stored certificate.", stdout, stderr)
	df := addDaemonFlags(c.FlagSet, "slave", config.DefaultSlaveFile, "where the slave keeps its key and certificate")
	workDir := c.String("work-dir", "", "where scripts run, one folder per session ([slave] work_dir)")
	functions := c.String("functions-path", "", "where to install functions.sh ([slave] functions_path)")
	hostname := c.String("hostname", "", "set the host name first (in a UTS namespace of its own)")
	shell := c.String("shell", "", "run the stage scripts with this shell instead of bash")
	syncDir := c.String("sync-dir", "", "put the scripts' sync socket in this folder instead of an abstract socket")
	hostNetns := c.String("host-netns", "", "start the stage scripts and shells in this network namespace: a slave beside its host (netns backend)")
	hostJoin := c.String("host-join", "", "with --host-netns: the file the scripts' bash reads first (BASH_ENV), which joins the host's cgroup")
	if code, ok := c.parse(args); !ok {
		return code
	}
	cfg := config.DefaultSlave()
	extra := map[string]string{"slave.work_dir": *workDir, "slave.functions_path": *functions}
	proc, code, ok := c.start(func() error { return df.load(cfg, config.DefaultSlaveFile, extra, stderr) }, &cfg.Daemon)
	if !ok {
		return code
	}
	defer proc.Close()
	proc.HandleHangups(ctx, nil)
	log := proc.Log
	if *hostname != "" {
		if err := unix.Sethostname([]byte(*hostname)); err != nil {
			return c.fail(1, "cannot set the host name to %s: %v", *hostname, err)
		}
	}
	var host *inhost.Host
	if *hostNetns != "" || *hostJoin != "" {
		if *hostNetns == "" || *hostJoin == "" {
			return c.fail(2, "--host-netns and --host-join go together")
		}
		h, err := inhost.Open(*hostNetns, *hostJoin)
		if err != nil {
			return c.fail(1, "%v", err)
		}
		host = h
		defer host.Close()
	}
	conn, err := daemonConnection(cfg.TestMaster, cfg.Slave.Name, cfg.Slave.StateDir)
	if err != nil {
		return c.fail(2, "%v", err)
	}
	ac := slave.Config{
		Master: conn.Master, Name: conn.Name, StateDir: conn.StateDir, Token: conn.Token, Pin: conn.Pin, HavePin: conn.HavePin,
		Version: conn.Version, Log: log, WorkDir: cfg.Slave.WorkDir, FunctionsPath: cfg.Slave.FunctionsPath,
		WorkRetention: slave.WorkRetention{MaxAge: cfg.Retention.MaxAge, MaxDirs: cfg.Retention.MaxSessions},
		Shell:         *shell, Host: host, SyncDir: *syncDir,
	}
	if err := proctree.BecomeSubreaper(); err != nil {
		log.Warn("cannot become a child subreaper; orphaned script processes will not be reaped", "err", err)
	} else {
		// Services a stage left behind are reparented to us when their
		// parent script ends; reap them when they exit.
		go proctree.RunReaper(ctx, 0)
	}
	if err := slave.New(ac).Run(ctx); err != nil {
		log.Error("slave stopped", "err", err)
		return c.fail(1, "%v", err)
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
