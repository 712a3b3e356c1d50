// Command history times the master's web pages over a long history: it
// seeds an SQLite history of -n sessions (each with -stages stages on
// -slaves slaves: a stage row per stage, a result row per stage and slave,
// and their events), starts a master with the web pages on it in this
// process, and prints the median and maximum time of the dashboard and of
// the first, a deep and a filtered history page, and of the cases pages and
// API of a suite (target: < 200 ms each),
// plus a few other pages and their API twins. It prints figures; it
// asserts nothing but that every page answers 200.
//
//	go run ./bench/history                 # 100,000 sessions x 10 stages x 4 slaves
//	go run ./bench/history -dir /var/tmp/h # seed once, time again later
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite"

	"github.com/xrdtest/xrdtest/internal/definition"
	"github.com/xrdtest/xrdtest/internal/master"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite"
)

const (
	suites = 20
	cases  = 3 // with suite_init: 1 + 3 x (init, run, finalize) = 10 stages
)

func main() {
	n := flag.Int("n", 100_000, "sessions to seed")
	slaves := flag.Int("slaves", 4, "slaves per session")
	runs := flag.Int("runs", 7, "requests per page")
	dirFlag := flag.String("dir", "", "state `folder` to seed (kept; seeded only when it has no history yet); default: a temporary one")
	flag.Parse()

	dir := *dirFlag
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "xrdtest-bench-history-"); err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	ctx := context.Background()
	repo := filepath.Join(dir, "repo")
	if err := writeRepo(repo, *slaves); err != nil {
		fatal(err)
	}
	state := filepath.Join(dir, "state")
	if _, err := os.Stat(filepath.Join(state, "history", "history.db")); os.IsNotExist(err) {
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "seeding %d sessions x %d stages x %d slaves...\n", *n, 1+3*cases, *slaves)
		if err := seed(ctx, filepath.Join(state, "history"), *n, *slaves); err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "seeded in %s\n", time.Since(t0).Round(time.Second))
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := master.Open(ctx, master.Options{StateDir: state, DaemonAddr: "127.0.0.1:0", WebAddr: "127.0.0.1:0",
		Repos: []definition.Repo{{Root: repo}}, Log: log, Version: "bench",
		Pages: &master.Pages{Public: true, KeyFile: filepath.Join(state, "web-login-key")}})
	if err != nil {
		fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); m.Serve(sctx) }()
	defer func() { stop(); <-served }()

	base := "http://" + m.WebAddr().String()
	client := &http.Client{Timeout: time.Minute}
	var count int
	if _, count, err = m.Store.Sessions(ctx, store.Filter{Limit: 1}); err != nil {
		fatal(err)
	}
	last := (count + 49) / 50
	pages := []struct {
		path   string
		target bool
	}{
		{"/", true},
		{"/history", true},
		{fmt.Sprintf("/history?page=%d", last/2), true},
		{fmt.Sprintf("/history?page=%d", last), true},
		{"/history?suite=suite07&state=failed", true},
		{"/history?suite=suite07&state=failed&page=20", true},
		{"/history?state=cancelled&from=" + time.Now().AddDate(0, -1, 0).Format("2006-01-02"), true},
		{"/suites/suite07/cases", true},
		{"/suites/suite07/cases/c2", true},
		{"/api/v1/suites/suite07/cases", true},
		{"/api/v1/suites/suite07/cases/c2", true},
		{"/suites", false},
		{fmt.Sprintf("/sessions/%d", count/2), false},
		{"/api/v1/dashboard", false},
		{fmt.Sprintf("/api/v1/history?page=%d", last/2), false},
		{"/api/v1/history?suite=suite07&state=failed", false},
		{fmt.Sprintf("/api/v1/sessions/%d?scripts=0", count/2), false},
	}
	fmt.Printf("history of %d sessions (%d stages x %d slaves each), %d requests per page\n\n", count, 1+3*cases, *slaves, *runs)
	fmt.Printf("%-52s %10s %10s %9s\n", "page", "median", "max", "< 200 ms")
	worst := time.Duration(0)
	for _, p := range pages {
		var ds []time.Duration
		for range *runs {
			t0 := time.Now()
			resp, err := client.Get(base + p.path)
			if err != nil {
				fatal(err)
			}
			size, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ds = append(ds, time.Since(t0))
			if resp.StatusCode != http.StatusOK || size == 0 {
				fatal(fmt.Errorf("GET %s: %s, %d bytes", p.path, resp.Status, size))
			}
		}
		slices.Sort(ds)
		med := ds[len(ds)/2]
		verdict := ""
		if p.target {
			worst = max(worst, med)
			verdict = "yes"
			if med >= 200*time.Millisecond {
				verdict = "NO"
			}
		}
		fmt.Printf("%-52s %8.1f ms %7.1f ms %9s\n", p.path, ms(med), ms(ds[len(ds)-1]), verdict)
	}
	fmt.Printf("\nslowest target page: %.1f ms (target < 200 ms: %s)\n", ms(worst), map[bool]string{true: "met", false: "NOT met"}[worst < 200*time.Millisecond])
}

// writeRepo writes the definitions the seeded sessions claim to have run:
// a cluster of the slaves and the suites.
func writeRepo(root string, slaves int) error {
	var hosts, names []string
	for i := 1; i <= slaves; i++ {
		names = append(names, fmt.Sprintf("w%d", i))
		hosts = append(hosts, fmt.Sprintf("    w%d = Host('w%d.xrd.test', '10.30.0.%d')", i, i, 10+i))
	}
	cluster := "def getCluster():\n    c = Cluster('cluster_h')\n    c.network.ip = '10.30.0.1'\n" +
		"    c.defaultHost.arch = 'x86_64'\n    c.defaultHost.bootImage = 'slave.qcow2'\n    c.defaultHost.ramSize = '524288'\n" +
		"    c.network.netmask = '255.255.255.0'\n    c.network.DHCPRange = ('10.30.0.100', '10.30.0.200')\n" +
		strings.Join(hosts, "\n") + "\n    c.addHosts([" + strings.Join(names, ", ") + "])\n    return c\n"
	files := map[string]string{"clusters/cluster_h.py": cluster}
	for s := range suites {
		name := fmt.Sprintf("suite%02d", s)
		files["test-suites/"+name+"/test_suite.py"] = "def getTestSuite():\n    ts = TestSuite('" + name + "')\n" +
			"    ts.clusters = ['cluster_h']\n    ts.tests = ['c1', 'c2', 'c3']\n    ts.schedule = dict(hour='3')\n" +
			"    ts.initialize = 'file://init.sh'\n    return ts\n"
		files["test-suites/"+name+"/init.sh"] = "#!/bin/bash\necho init\n"
		for c := 1; c <= cases; c++ {
			for _, st := range []string{"init", "run", "finalize"} {
				files[fmt.Sprintf("test-suites/%s/tc/c%d/%s.sh", name, c, st)] = "#!/bin/bash\necho " + st + "\n"
			}
		}
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// seed creates the history (the store makes the schema) and fills it in
// one transaction with direct inserts: through the store's API, one
// transaction per result batch, it would take many minutes.
func seed(ctx context.Context, dir string, n, slaves int) error {
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return err
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "history.db")+"?_pragma=journal_mode(wal)&_pragma=synchronous(off)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		s, err := tx.Prepare(q)
		if err != nil {
			fatal(err)
		}
		return s
	}
	insSession := prep(`INSERT INTO sessions (suite, state, reason, machines, cases, repo_revision, triggered_by, created_ns, started_ns, ended_ns)
		VALUES (?, ?, ?, ?, '["c1","c2","c3"]', 'defs@3e44039a', 'schedule', ?, ?, ?)`)
	insStage := prep(`INSERT INTO stages (session_id, idx, name, case_name, started_ns, ended_ns) VALUES (?, ?, ?, ?, ?, ?)`)
	insResult := prep(`INSERT INTO results (session_id, stage, slave, status, exit_code, start_ns, end_ns, message, script, output_bytes, fingerprint)
		VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)`)
	insPrint := prep(`INSERT INTO fingerprints (id, text) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`)
	insEvent := prep(`INSERT INTO events (session_id, time_ns, kind, message) VALUES (?, ?, ?, ?)`)

	var machines []string
	for i := 1; i <= slaves; i++ {
		machines = append(machines, fmt.Sprintf(`"w%d.xrd.test"`, i))
	}
	machinesJSON := "[" + strings.Join(machines, ",") + "]"
	stageNames := []struct{ name, cas string }{{"suite_init", ""}}
	for c := 1; c <= cases; c++ {
		for _, s := range []string{"init", "run", "finalize"} {
			stageNames = append(stageNames, struct{ name, cas string }{fmt.Sprintf("c%d:%s", c, s), fmt.Sprintf("c%d", c)})
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now().AddDate(-1, 0, 0)
	step := 365 * 24 * time.Hour / time.Duration(n)
	for i := range n {
		created := start.Add(time.Duration(i) * step)
		suite := fmt.Sprintf("suite%02d", i%suites)
		state, reason, failAt := store.SessionPassed, "", -1
		switch x := r.IntN(10); {
		case x < 2:
			state, failAt = store.SessionFailed, 1+r.IntN(len(stageNames)-1)
			reason = fmt.Sprintf("%s failed on w2.xrd.test (exit 1)", stageNames[failAt].name)
		case x < 3:
			state, reason = store.SessionCancelled, "cancelled by web (alice)"
		}
		t := created.Add(time.Second)
		res, err := insSession.Exec(suite, string(state), reason, machinesJSON, created.UnixNano(), t.UnixNano(),
			t.Add(time.Duration(len(stageNames))*3*time.Second).UnixNano())
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		for si, sn := range stageNames {
			end := t.Add(time.Duration(1+r.IntN(2900)) * time.Millisecond)
			if _, err := insStage.Exec(id, si, sn.name, sn.cas, t.UnixNano(), end.UnixNano()); err != nil {
				return err
			}
			for w := 1; w <= slaves; w++ {
				status, code, fp := store.StatusPassed, 0, ""
				if si == failAt && w == 2 {
					// One of three failures of this stage of this suite,
					// each with a fingerprint as the engine records it.
					status, code = store.StatusFailed, 1
					kind := r.IntN(3)
					fp = fmt.Sprintf("%s-%02d-%x", suite, si, kind)
					text := fmt.Sprintf("%s: exit 1\nerror kind %d", sn.name, kind)
					if _, err := insPrint.Exec(fp, text); err != nil {
						return err
					}
				}
				if _, err := insResult.Exec(id, si, fmt.Sprintf("w%d.xrd.test", w), string(status), code, t.UnixNano(), end.UnixNano(),
					"#!/bin/bash\necho "+sn.name+"\n", 6+r.IntN(4000), fp); err != nil {
					return err
				}
			}
			t = end.Add(time.Millisecond)
		}
		for _, e := range []struct{ kind, msg string }{{"queued", "session of " + suite + " queued by schedule"}, {"finished", string(state)}} {
			if _, err := insEvent.Exec(id, created.UnixNano(), e.kind, e.msg); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA optimize")
	return err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/history:", err)
	os.Exit(1)
}
