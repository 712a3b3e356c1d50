// Package quickstart runs suites once, in one process: a master, a cluster
// backend (netns, local or libvirt) and the slaves the clusters start, and
// prints what happened on every stage and slave, or one JSON document.
// The `xrdtest quickstart` command is its flags.
package quickstart

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

// Options are what `xrdtest quickstart` takes; see its usage.
type Options struct {
	Defs       string   // the definitions repository
	Suites     []string // run these, in order (none: every suite)
	Check      bool     // only say whether Backend can run here
	JSON       bool     // one JSON document (Document) instead of the summary
	Keep       bool     // leave the master running until ctx ends
	StateDir   string   // "": a new temporary folder
	SlaveWait  time.Duration
	Backend    string // "": netns where the machine allows it, else local
	LibvirtURI string
	Pool       string
	ImageDir   string   // libvirt: an image made by xrdtest image build ("": build one)
	Packages   []string // libvirt without ImageDir: packages put into the image built
	Hold       time.Duration
	Seed       int64
	// StageTimeout is the stage timeout when the suite sets none.
	StageTimeout time.Duration
	LogLevel     string // of the master's log, on stderr
	Version      string // of this xrdtest
}

// Run runs o's suites and returns the command's exit status: 0 when
// every session passed.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xrdtest quickstart: "+format+"\n", a...)
		return 1
	}
	log, err := daemonproc.NewLogger(stderr, o.LogLevel, "text")
	if err != nil {
		return fail("%v", err)
	}
	if len(o.Packages) > 0 && (o.ImageDir != "" || o.Backend != backends.Libvirt) {
		return fail("--package goes into the image quickstart builds: only with --backend libvirt and without --image (xrdtest image build --package for one to reuse)")
	}
	if o.Check {
		if o.Backend == "" {
			o.Backend = backends.Netns
		}
		if err := Check(ctx, o.Backend, o.LibvirtURI, o.Pool); err != nil {
			return fail("the %s backend cannot run here: %v", o.Backend, err)
		}
		fmt.Fprintf(stdout, "the %s backend can run here\n", o.Backend)
		return 0
	}
	dir := o.StateDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "xrdtest-quickstart-"); err != nil {
			return fail("%v", err)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return fail("%v", err)
	}
	set := definition.Load(ctx, []definition.Repo{{Root: o.Defs}}, definition.Options{})
	if errs := set.Diagnostics.Errors(); len(errs) > 0 {
		for _, d := range errs {
			fmt.Fprintf(stderr, "%s\n", filepath.Join(d.Repo, d.String()))
		}
		if len(set.Suites) == 0 {
			return fail("no suite loaded from %s", o.Defs)
		}
	}
	suites := slices.Clone(o.Suites)
	if len(suites) == 0 {
		for _, s := range set.Suites {
			suites = append(suites, s.Name)
		}
	}
	for _, name := range suites {
		if set.Suite(name) == nil {
			return fail("no suite %q in %s", name, o.Defs)
		}
	}

	// The machines' slaves enroll with one-time tokens the master issues
	// per host and pin the CA the spec names; the master needs no
	// connection token.
	if o.Backend == "" {
		// The closest to VMs this machine allows, said on stderr (stdout
		// may be the JSON document).
		if err := netns.Check(); err != nil {
			o.Backend = backends.Local
			fmt.Fprintf(stderr, "xrdtest quickstart: using the local backend: %v\n", err)
		} else {
			o.Backend = backends.Netns
			fmt.Fprintln(stderr, "xrdtest quickstart: using the netns backend (each host in namespaces of its own; --backend local for plain processes)")
		}
	}
	be, err := backends.Open(ctx, o.Backend, backends.Settings{StateDir: dir, LibvirtURI: o.LibvirtURI, Pool: o.Pool, Log: log})
	if err != nil {
		return fail("%v", err)
	}
	defer be.Close()
	daemonAddr := "127.0.0.1:0"
	if o.SlaveWait == 0 {
		o.SlaveWait = time.Minute
		if be.Libvirt != nil {
			o.SlaveWait = 5 * time.Minute // VMs boot first
		}
	}
	if be.Libvirt != nil {
		if err := installSlaveImage(ctx, be.Libvirt, set, o.ImageDir, o.Packages, dir, o.Version, stdout, o.JSON); err != nil {
			return fail("%v", err)
		}
		// A quickstart leaves nothing behind, cached volumes included:
		// its state folder (which owns them) is temporary.
		defer func() {
			if !o.Keep {
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
		APIToken: apiToken, Repos: []definition.Repo{{Root: o.Defs}},
		Settings: session.Settings{StageTimeout: o.StageTimeout, KillGrace: 5 * time.Second, SlaveWait: o.SlaveWait,
			LogMaxBytes: 1 << 20}, // @port@ and @proto@: the web port as it listens
		Clusters: be, Log: log, Version: o.Version,
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
		s, err := m.Manager.StartWith(ctx, name, nil, "quickstart", session.StartOptions{Retries: -1, Hold: o.Hold, Seed: o.Seed})
		if err != nil {
			return fail("%v", err)
		}
		if !o.JSON {
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
		if !o.JSON {
			console.Summary(stdout, d) // the history's records are the API's
			printFailures(console.Safe(stdout), m.Store, d)
			printCollectedLogs(ctx, stdout, m.Store, d.ID, filepath.Join(dir, "master", "history", "logs"))
			fmt.Fprintln(stdout)
		}
	}
	if o.JSON {
		if err := writeJSON(stdout, m.Store, details); err != nil {
			return fail("%v", err)
		}
	} else {
		fmt.Fprintf(stdout, "State, outputs and logs: %s\n", dir)
		fmt.Fprintf(stdout, "  outputs:   %s\n", filepath.Join(dir, "master", "history", "outputs"))
		if be.Name == backends.Local {
			fmt.Fprintf(stdout, "  slave logs: %s\n", filepath.Join(dir, "machines", "<cluster>", "<host>", "slave.log"))
		}
		if !o.Keep {
			fmt.Fprintln(stdout, "With --keep the master stays up: browse it with xrdtest status, xrdtest logs SESSION, xrdtest run SUITE.")
		}
	}
	if o.Keep {
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
			out, err := ReadOutput(st, d.ID, stg.Index, r.Slave)
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

// Check says why the backend called name cannot run here, or nil.
func Check(ctx context.Context, name, libvirtURI, pool string) error {
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
func installSlaveImage(ctx context.Context, lb *libvirt.Backend, set *definition.Set, imageDir string, packages []string, dir, version string, stdout io.Writer, quiet bool) error {
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

// Document is the quickstart --json document: every session with its
// stages, each slave's result and output, and the faults set.
type Document struct {
	Sessions []Session `json:"sessions"`
}

// Result is a slave's result of a stage, with its output.
type Result struct {
	Slave    string  `json:"slave"`
	Status   string  `json:"status"`
	ExitCode *int    `json:"exit_code"`
	Start    *string `json:"start"`
	End      *string `json:"end"`
	Output   string  `json:"output"`
}

// Stage is a stage of a Session.
type Stage struct {
	Name    string   `json:"name"`
	Results []Result `json:"results"`
}

// Session is a session of a Document.
type Session struct {
	ID     int64   `json:"id"`
	Suite  string  `json:"suite"`
	State  string  `json:"state"`
	Stages []Stage `json:"stages"`
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

func writeJSON(w io.Writer, st store.Store, details []*store.SessionDetail) error {
	out := Document{Sessions: []Session{}}
	for _, d := range details {
		events, err := st.Events(context.Background(), d.ID)
		if err != nil {
			return err
		}
		s := Session{ID: d.ID, Suite: d.Suite, State: string(d.State), Stages: []Stage{}, Faults: views.FaultWindows(events)}
		for _, stg := range d.Stages {
			qs := Stage{Name: stg.Name, Results: []Result{}}
			for _, r := range stg.Results {
				output, err := ReadOutput(st, d.ID, stg.Index, r.Slave)
				if err != nil {
					return err
				}
				qs.Results = append(qs.Results, Result{Slave: r.Slave, Status: string(r.Status), ExitCode: r.ExitCode,
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

// ReadOutput is the whole output of a slave's stage; "" when it wrote none.
func ReadOutput(st store.Store, session int64, stage int, slave string) (string, error) {
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
