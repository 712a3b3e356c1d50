package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/console"
	"github.com/xrdtest/xrdtest/internal/daemonproc"
	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/hypervisor/backends"
	"github.com/xrdtest/xrdtest/internal/hypervisor/libvirt"
	"github.com/xrdtest/xrdtest/internal/hypervisor/netns"
	"github.com/xrdtest/xrdtest/internal/image"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/views"
)

func runQuickstart(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("quickstart", "", stdout, stderr)
	defs := fs.String("defs", "examples", "the definitions repository `DIR`")
	var suiteNames listFlag
	fs.Var(&suiteNames, "suite", "run this `suite`; repeat it for several, run in the order given (default: every suite, one after another)")
	check := fs.Bool("check", false, "only say whether the backend (--backend, default netns) can run on this machine: exit 0, or 1 naming what it lacks")
	asJSON := fs.Bool("json", false, "print one JSON document instead of the summary")
	keep := fs.Bool("keep", false, "leave the master (and its API) running after the sessions")
	stateDir := fs.String("state-dir", "", "keep the master's state here (default: a new temporary folder)")
	slaveWait := fs.Duration("slave-wait", 0, "how long a session waits for its slaves (default 60s, 5m with libvirt)")
	backendName := fs.String("backend", "", "where the hosts run: netns (namespaces of their own: the default where this machine allows it), local (slave processes: the default otherwise) or libvirt (VMs)")
	libvirtURI := fs.String("libvirt-uri", "qemu:///system", "libvirt `URI` (qemu:///system or qemu+unix:///system?socket=PATH)")
	pool := fs.String("pool", "default", "libvirt storage `pool` holding the boot images")
	imageDir := fs.String("image", "", "an image `DIR` made by `xrdtest image build` (default: build one)")
	var packages listFlag
	fs.Var(&packages, "package", "with libvirt and no --image: put this Debian `package` and its dependencies into the image built (xrdtest image build --package); repeat it for several")
	hold := fs.Duration("hold", 0, "at a session's first failed stage, hold it before any finalize, its cluster up, for `DURATION` (e.g. 30m): quickstart prints how to reach it (xrdtest shell, xrdtest hold release)")
	stageTimeout := fs.Duration("stage-timeout", 10*time.Minute, "stage timeout when the suite sets none")
	logLevel := fs.String("log-level", "WARNING", "log level of the master (logs go to stderr)")
	seed := fs.Int64("seed", 0, "seed the suites' fault schedules (ts.faults) with `N`: the same seed, the same faults (default: each its own seed)")
	fs.usage = "usage: xrdtest quickstart [--defs DIR] [--suite NAME]... [--json] [--keep]\n                          [--hold DURATION] [--seed N]\n                          [--backend netns|local|libvirt]\n                          [--image DIR | --package NAME...]\n       xrdtest quickstart --check [--backend netns|local|libvirt]\n\nStarts a master and a hypervisor backend (netns: each host in network, mount,\nPID and UTS namespaces of its own, as root; local: one slave process per host;\nlibvirt: one VM per host, booting the slave image, built when --image is not\ngiven), runs the suites once and prints what happened on every stage and\nslave. Exits non-zero when a session did not pass."
	if code, ok := fs.parse(args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xrdtest quickstart: "+format+"\n", a...)
		return 1
	}
	log, err := daemonproc.NewLogger(stderr, *logLevel, "text")
	if err != nil {
		return fail("%v", err)
	}
	if len(packages) > 0 && (*imageDir != "" || *backendName != backends.Libvirt) {
		return fail("--package goes into the image quickstart builds: only with --backend libvirt and without --image (xrdtest image build --package for one to reuse)")
	}
	if *check {
		if *backendName == "" {
			*backendName = backends.Netns
		}
		if err := checkBackend(ctx, *backendName, *libvirtURI, *pool); err != nil {
			return fail("the %s backend cannot run here: %v", *backendName, err)
		}
		fmt.Fprintf(stdout, "the %s backend can run here\n", *backendName)
		return 0
	}
	dir := *stateDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "xrdtest-quickstart-"); err != nil {
			return fail("%v", err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return fail("%v", err)
	}
	set := definition.Load(ctx, []definition.Repo{{Root: *defs}}, definition.Options{})
	if errs := set.Diagnostics.Errors(); len(errs) > 0 {
		for _, d := range errs {
			fmt.Fprintf(stderr, "%s\n", filepath.Join(d.Repo, d.String()))
		}
		if len(set.Suites) == 0 {
			return fail("no suite loaded from %s", *defs)
		}
	}
	suites := []string(suiteNames)
	if len(suites) == 0 {
		for _, s := range set.Suites {
			suites = append(suites, s.Name)
		}
	}
	for _, name := range suites {
		if set.Suite(name) == nil {
			return fail("no suite %q in %s", name, *defs)
		}
	}

	// The machines' slaves enroll with one-time tokens the master issues
	// per host and pin the CA the spec names; the master needs no
	// connection token.
	if *backendName == "" {
		// The closest to VMs this machine allows, said on stderr (stdout
		// may be the JSON document).
		if err := netns.Check(); err != nil {
			*backendName = backends.Local
			fmt.Fprintf(stderr, "xrdtest quickstart: using the local backend: %v\n", err)
		} else {
			*backendName = backends.Netns
			fmt.Fprintln(stderr, "xrdtest quickstart: using the netns backend (each host in namespaces of its own; --backend local for plain processes)")
		}
	}
	be, err := backends.Open(ctx, *backendName, backends.Settings{StateDir: dir, LibvirtURI: *libvirtURI, Pool: *pool, Log: log})
	if err != nil {
		return fail("%v", err)
	}
	defer be.Close()
	daemonAddr := "127.0.0.1:0"
	if *slaveWait == 0 {
		*slaveWait = time.Minute
		if be.Libvirt != nil {
			*slaveWait = 5 * time.Minute // VMs boot first
		}
	}
	if be.Libvirt != nil {
		if err := installSlaveImage(ctx, be.Libvirt, set, *imageDir, packages, dir, stdout, *asJSON); err != nil {
			return fail("%v", err)
		}
		// A quickstart leaves nothing behind, cached volumes included:
		// its state folder (which owns them) is temporary.
		defer func() {
			if !*keep {
				if err := be.Libvirt.Purge(context.WithoutCancel(ctx)); err != nil {
					log.Warn("cannot remove the cached volumes", "err", err)
				}
			}
		}()
		// The VMs reach the master as master.xrd.test, their network's
		// gateway: its daemon port, and its web port, where the scripts
		// download from.
		daemonAddr = "0.0.0.0:0"
	}
	apiToken := randomToken()
	// Pages readable without a login only where the web port is this
	// machine's alone; elsewhere the login is the API token.
	public := daemonAddr == "127.0.0.1:0"
	pagesPass := ""
	if !public {
		pagesPass = apiToken
	}
	m, err := master.Open(ctx, master.Options{
		StateDir: filepath.Join(dir, "master"), DaemonAddr: daemonAddr, WebAddr: daemonAddr,
		APIToken: apiToken, Repos: []definition.Repo{{Root: *defs}},
		Settings: session.Settings{StageTimeout: *stageTimeout, KillGrace: 5 * time.Second, SlaveWait: *slaveWait,
			LogMaxBytes: 1 << 20}, // @port@ and @proto@: the web port as it listens
		Clusters: be, Log: log, Version: version,
		// The pages too, for looking at what ran (--keep); the actions
		// need the API token.
		Pages: &master.Pages{Public: public, Password: pagesPass, KeyFile: filepath.Join(dir, "master", "web-login-key")},
	})
	if err != nil {
		return fail("%v", err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- m.Serve(serveCtx) }()
	defer func() {
		stop()
		<-served
	}()

	var details []*store.SessionDetail
	code := 0
	for _, name := range suites {
		s, err := m.Manager.StartWith(ctx, name, nil, "quickstart", session.StartOptions{Retries: -1, Hold: *hold, Seed: *seed})
		if err != nil {
			return fail("%v", err)
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "running suite %s as session %d...\n", name, s.ID)
		}
		wctx, waited := context.WithCancel(ctx)
		go announceHold(wctx, m, s.ID, apiToken, stderr)
		_, err = m.Manager.Wait(ctx, s.ID)
		waited()
		if err != nil {
			return fail("%v", err)
		}
		d, err := store.Detail(context.WithoutCancel(ctx), m.Store, s.ID)
		if err != nil {
			return fail("%v", err)
		}
		details = append(details, d)
		if d.State != store.SessionPassed {
			code = 1
		}
		if !*asJSON {
			console.Summary(stdout, d) // the history's records are the API's
			printFailures(console.Safe(stdout), m.Store, d)
			printCollectedLogs(ctx, stdout, m.Store, d.ID, filepath.Join(dir, "master", "history", "logs"))
			fmt.Fprintln(stdout)
		}
	}
	if *asJSON {
		if err := writeQuickstartJSON(stdout, m.Store, details); err != nil {
			return fail("%v", err)
		}
	} else {
		fmt.Fprintf(stdout, "State, outputs and logs: %s\n", dir)
		fmt.Fprintf(stdout, "  outputs:   %s\n", filepath.Join(dir, "master", "history", "outputs"))
		if be.Name == backends.Local {
			fmt.Fprintf(stdout, "  slave logs: %s\n", filepath.Join(dir, "machines", "<cluster>", "<host>", "slave.log"))
		}
		if !*keep {
			fmt.Fprintln(stdout, "With --keep the master stays up: browse it with xrdtest status, xrdtest logs SESSION, xrdtest run SUITE.")
		}
	}
	if *keep {
		login := ""
		if !public {
			login = ", the pages' login too"
		}
		fmt.Fprintf(stderr, "master running: web pages and API http://%s (token %s%s), daemons %s; Ctrl-C stops it\n", m.WebAddr(), apiToken, login, m.DaemonAddr())
		<-ctx.Done()
	}
	return code
}

// announceHold tells, on stderr, how to reach session id once it is held:
// the quickstart's master is only known to it. It returns when ctx ends.
func announceHold(ctx context.Context, m *master.Master, id int64, token string, stderr io.Writer) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		s, err := m.Store.Session(ctx, id)
		if err != nil || s.State != store.SessionHeld {
			continue
		}
		fmt.Fprintf(stderr, `session %d held until %s: its cluster is up as the failure left it. From another terminal:
  export XRDTEST_MASTER=http://%s XRDTEST_API_TOKEN=%s
  xrdtest shell %d HOST [-- COMMAND...]   # a shell on a host (the pages have one too)
  xrdtest hold extend %d 30m               # more time
  xrdtest hold release %d                  # go on: finalizes, logs, the cluster stopped
`, id, s.HoldUntil.Local().Format(time.DateTime), m.WebAddr(), token, id, id, id)
		return
	}
}

// printFailures prints, for each stage that failed on a slave, the last
// line its script wrote: most scripts end with why they failed.
func printFailures(w io.Writer, st store.Store, d *store.SessionDetail) {
	for _, stg := range d.Stages {
		for _, r := range stg.Results {
			if r.Status != store.StatusFailed && r.Status != store.StatusTimeout {
				continue
			}
			out, err := readOutput(st, d.ID, stg.Index, r.Slave)
			if err != nil {
				continue
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := strings.TrimSpace(lines[len(lines)-1])
			if last == "" {
				continue
			}
			if r := []rune(last); len(r) > 300 {
				last = string(r[:300]) + "..."
			}
			fmt.Fprintf(w, "  %s on %s: %s\n", stg.Name, r.Slave, last)
		}
	}
}

// printCollectedLogs says which of the suite's log files were collected,
// from how many hosts, and where they are: under
// logs/<session>/<host>/, each named by its path on the host with its
// slashes escaped.
func printCollectedLogs(ctx context.Context, w io.Writer, st store.Store, session int64, dir string) {
	logs, err := st.Logs(ctx, session)
	if err != nil || len(logs) == 0 {
		return
	}
	hosts := map[string]bool{}
	var paths []string
	for _, l := range logs {
		hosts[l.Slave] = true
		if !slices.Contains(paths, l.Path) {
			paths = append(paths, l.Path)
		}
	}
	fmt.Fprintf(w, "  logs collected: %d files from %d hosts (%s) in %s\n", len(logs), len(hosts),
		strings.Join(paths, ", "), filepath.Join(dir, strconv.FormatInt(session, 10), "<host>"))
}

// checkBackend says why the backend called name cannot run here, or nil.
func checkBackend(ctx context.Context, name, libvirtURI, pool string) error {
	switch name {
	case backends.Netns:
		return netns.Check()
	case backends.Libvirt:
		dir, err := os.MkdirTemp("", "xrdtest-check-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		be, err := backends.Open(ctx, name, backends.Settings{StateDir: dir, LibvirtURI: libvirtURI, Pool: pool})
		if err != nil {
			return err
		}
		return be.Close()
	case backends.Local:
		return nil
	}
	return fmt.Errorf("%w %q (known: %s)", backends.ErrUnknown, name, strings.Join(backends.Names, ", "))
}

// installSlaveImage installs the slave image (built unless imageDir is
// given) into the pool under every boot image name the suites' clusters
// use.
func installSlaveImage(ctx context.Context, lb *libvirt.Backend, set *definition.Set, imageDir string, packages []string, dir string, stdout io.Writer, quiet bool) error {
	var kernel, initrd string
	if imageDir != "" {
		var err error
		if kernel, initrd, err = image.Files(imageDir); err != nil {
			return fmt.Errorf("--image %s: %w", imageDir, err)
		}
	} else {
		if !quiet {
			fmt.Fprintln(stdout, "building the slave image (xrdtest image build)...")
		}
		var steps io.Writer = stdout
		if quiet {
			steps = io.Discard
		}
		img, err := image.Build(ctx, image.Options{OutDir: filepath.Join(dir, "image"), Version: version, Packages: packages, Log: steps})
		if err != nil {
			return fmt.Errorf("building the slave image: %w", err)
		}
		kernel, initrd = img.Kernel, img.Initrd
	}
	images := map[string]bool{}
	for _, c := range set.Clusters {
		for _, h := range c.Hosts {
			images[h.BootImage] = true
		}
	}
	for name := range images {
		if err := lb.InstallImage(ctx, name, kernel, initrd); err != nil {
			return err
		}
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// qsDocument is the quickstart --json document.
type qsDocument struct {
	Sessions []qsSession `json:"sessions"`
}

type qsResult struct {
	Slave    string  `json:"slave"`
	Status   string  `json:"status"`
	ExitCode *int    `json:"exit_code"`
	Start    *string `json:"start"`
	End      *string `json:"end"`
	Output   string  `json:"output"`
}

type qsStage struct {
	Name    string     `json:"name"`
	Results []qsResult `json:"results"`
}

type qsSession struct {
	ID     int64     `json:"id"`
	Suite  string    `json:"suite"`
	State  string    `json:"state"`
	Stages []qsStage `json:"stages"`
	// Faults are those set on the session's hosts, with their windows.
	Faults []api.Fault `json:"faults"`
}

func rfc3339(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.RFC3339Nano)
	return &s
}

func writeQuickstartJSON(w io.Writer, st store.Store, details []*store.SessionDetail) error {
	out := qsDocument{Sessions: []qsSession{}}
	for _, d := range details {
		events, err := st.Events(context.Background(), d.ID)
		if err != nil {
			return err
		}
		s := qsSession{ID: d.ID, Suite: d.Suite, State: string(d.State), Stages: []qsStage{}, Faults: views.FaultWindows(events)}
		for _, stg := range d.Stages {
			qs := qsStage{Name: stg.Name, Results: []qsResult{}}
			for _, r := range stg.Results {
				output, err := readOutput(st, d.ID, stg.Index, r.Slave)
				if err != nil {
					return err
				}
				qs.Results = append(qs.Results, qsResult{Slave: r.Slave, Status: string(r.Status), ExitCode: r.ExitCode,
					Start: rfc3339(r.Start), End: rfc3339(r.End), Output: output})
			}
			s.Stages = append(s.Stages, qs)
		}
		out.Sessions = append(out.Sessions, s)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func readOutput(st store.Store, session int64, stage int, slave string) (string, error) {
	f, err := st.OpenOutput(session, stage, slave)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}
