package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/proctree"
	"github.com/xrdtest/xrdtest/internal/slave"
)

func runSlave(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("slave", "", stdout, stderr)
	df := addDaemonFlags(fs.FlagSet, "slave", config.DefaultSlaveFile, "where the slave keeps its key and certificate")
	workDir := fs.String("work-dir", "", "where scripts run, one folder per session ([slave] work_dir)")
	functions := fs.String("functions-path", "", "where to install functions.sh ([slave] functions_path)")
	hostname := fs.String("hostname", "", "set the host name first (in a UTS namespace of its own)")
	shell := fs.String("shell", "", "run the stage scripts with this shell instead of bash (netns backend: bash inside the host)")
	syncDir := fs.String("sync-dir", "", "put the stages' sync sockets in this folder instead of abstract sockets")
	filesRoot := fs.String("files-root", "", "read the collected log files below this folder (/proc/PID/root: as process PID sees them)")
	fs.usage = "usage: xrdtest slave [-c FILE] [--master HOST:PORT] [--name NAME] [options]\n\nRuns the slave daemon: connects to the master and runs the stage scripts it\nsends. The first start enrolls with the connection token ([test_master]\nconnection_passwd, or XRDTEST_TOKEN) and the master's CA fingerprint; later\nstarts use the stored certificate."
	if code, ok := fs.parse(args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "xrdtest slave: "+format+"\n", a...)
		return code
	}
	cfg := config.DefaultSlave()
	extra := map[string]string{"slave.work_dir": *workDir, "slave.functions_path": *functions}
	if err := df.load(cfg, config.DefaultSlaveFile, extra, stderr); err != nil {
		return fail(2, "configuration: %v", err)
	}
	proc, err := startDaemon("slave", cfg.Daemon, stderr)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer proc.close()
	proc.handleHangups(ctx, nil)
	log := proc.log
	if *hostname != "" {
		if err := unix.Sethostname([]byte(*hostname)); err != nil {
			return fail(1, "cannot set the host name to %s: %v", *hostname, err)
		}
	}
	slaveName := cfg.Slave.Name
	if slaveName == "" {
		if slaveName, err = os.Hostname(); err != nil {
			return fail(2, "no name given and no host name: %v", err)
		}
	}
	ac := slave.Config{
		Master: net.JoinHostPort(cfg.TestMaster.IP, strconv.Itoa(cfg.TestMaster.Port)), Name: slaveName,
		StateDir: cfg.Slave.StateDir, WorkDir: cfg.Slave.WorkDir, FunctionsPath: cfg.Slave.FunctionsPath,
		Token: cfg.TestMaster.ConnectionPasswd.Reveal(), Version: version, Log: log,
		WorkRetention: slave.WorkRetention{MaxAge: cfg.Retention.MaxAge, MaxDirs: cfg.Retention.MaxSessions},
		Shell:         *shell, SyncDir: *syncDir, FilesRoot: *filesRoot,
	}
	if ac.Pin, ac.HavePin, err = masterPin(cfg.TestMaster); err != nil {
		return fail(2, "%v", err)
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
		return fail(1, "%v", err)
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
