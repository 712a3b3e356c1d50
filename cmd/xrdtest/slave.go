package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/xrdtest/xrdtest/internal/pki"
	"github.com/xrdtest/xrdtest/internal/slave"
	"github.com/xrdtest/xrdtest/internal/slave/runner"
)

func runSlave(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slave", flag.ContinueOnError)
	fs.SetOutput(stderr)
	masterAddr := fs.String("master", envOr("XRDTEST_MASTER_ADDR", "master.xrd.test:20000"), "the master's daemon `HOST:PORT`")
	name := fs.String("name", "", "this slave's name, the host's full name (default: the machine's host name)")
	fingerprint := fs.String("ca-fingerprint", os.Getenv("XRDTEST_CA_FINGERPRINT"), "SHA-256 `fingerprint` of the master's CA, to enroll")
	caFile := fs.String("ca-file", "", "the master's CA certificate `file`, instead of --ca-fingerprint")
	stateDir := fs.String("state-dir", "/var/lib/xrdtest/slave", "where the slave keeps its key and certificate")
	workDir := fs.String("work-dir", "/var/lib/xrdtest/slave/work", "where scripts run (one folder per session)")
	functions := fs.String("functions-path", "/etc/XrdTest/utils/functions.sh", "where to install functions.sh")
	hostname := fs.String("hostname", "", "set the host name first (in a UTS namespace of its own)")
	logLevel := fs.String("log-level", "INFO", "DEBUG, INFO, WARNING or ERROR")
	logFormat := fs.String("log-format", "text", "text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xrdtest slave --master HOST:PORT [--name NAME] [options]\n\nRuns the slave daemon: connects to the master, runs the stage scripts it sends.\nThe first start enrolls with the connection token (XRDTEST_TOKEN) and the\nmaster's CA fingerprint; later starts use the stored certificate.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "xrdtest slave: %v\n", err)
		return 2
	}
	if *hostname != "" {
		if err := unix.Sethostname([]byte(*hostname)); err != nil {
			fmt.Fprintf(stderr, "xrdtest slave: cannot set the host name to %s: %v\n", *hostname, err)
			return 1
		}
	}
	if *name == "" {
		if *name, err = os.Hostname(); err != nil {
			fmt.Fprintf(stderr, "xrdtest slave: no --name and no host name: %v\n", err)
			return 2
		}
	}
	cfg := slave.Config{
		Master: *masterAddr, Name: *name, StateDir: *stateDir, WorkDir: *workDir, FunctionsPath: *functions,
		Token: os.Getenv("XRDTEST_TOKEN"), Version: version, Log: log,
	}
	switch {
	case *caFile != "":
		if cfg.Pin, err = pki.PinFile(*caFile); err != nil {
			fmt.Fprintf(stderr, "xrdtest slave: --ca-file: %v\n", err)
			return 2
		}
		cfg.HavePin = true
	case *fingerprint != "":
		fp, err := pki.ParseFingerprint(*fingerprint)
		if err != nil {
			fmt.Fprintf(stderr, "xrdtest slave: --ca-fingerprint: %v\n", err)
			return 2
		}
		cfg.Pin, cfg.HavePin = pki.PinFingerprint(fp), true
	}
	if err := runner.BecomeSubreaper(); err != nil {
		log.Warn("cannot become a child subreaper; orphaned script processes will not be reaped", "err", err)
	}
	if err := slave.New(cfg).Run(ctx); err != nil {
		log.Error("slave stopped", "err", err)
		fmt.Fprintf(stderr, "xrdtest slave: %v\n", err)
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
