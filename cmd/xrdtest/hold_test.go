package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/master/mastertest"
	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// holdSuite fails c:run on s2. c:init starts a daemon on every host (a
// loop that beats in shared/beat.HOST); c:finalize stops it and notes
// that it ran in shared/final.HOST.
func holdSuite(shared string) map[string]string {
	r := strings.NewReplacer(`$XRDTEST_SHARED`, shared)
	return map[string]string{
		"hd/test_suite.py": suiteDef("hd", "", "c"),
		"hd/init.sh":       "#!/bin/bash\n",
		"hd/tc/c/init.sh": r.Replace(`#!/bin/bash
( while :; do date +%s%N > "$XRDTEST_SHARED/beat.@slavename@"; sleep 0.1; done ) </dev/null >/dev/null 2>&1 &
echo $! > "$XRDTEST_SHARED/daemon.@slavename@"
`),
		"hd/tc/c/run.sh":      "#!/bin/bash\nif [ @slavename@ = s2.xrd.test ]; then echo broken; exit 3; fi\n",
		"hd/tc/c/finalize.sh": r.Replace("#!/bin/bash\nkill $(cat \"$XRDTEST_SHARED/daemon.@slavename@\")\necho finalized >> \"$XRDTEST_SHARED/final.@slavename@\"\n"),
	}
}

// beating waits until host's daemon of holdSuite beats again: it still
// runs.
func beating(t *testing.T, shared, host string) {
	t.Helper()
	path := filepath.Join(shared, "beat."+host)
	first, _ := os.ReadFile(path)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(path); len(b) > 0 && string(b) != string(first) {
			return
		}
	}
	t.Fatalf("the daemon of %s does not beat (%s)", host, path)
}

// finalized counts the finalizes that ran on host.
func finalized(shared, host string) int {
	b, _ := os.ReadFile(filepath.Join(shared, "final."+host))
	return strings.Count(string(b), "finalized")
}

// awaitHeld waits until session id of st is held.
func awaitHeld(t *testing.T, st store.Store, id int64) *store.Session {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s, err := st.Session(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.State == store.SessionHeld {
			return s
		}
		if s.State.Finished() {
			t.Fatalf("session %d %s (%s) instead of held", id, s.State, s.Reason)
		}
	}
	t.Fatalf("session %d never held", id)
	return nil
}

// TestHoldEndToEnd: `xrdtest run --hold` holds a failing session before
// any finalize, its cluster and the daemons its case started up; `hold
// extend` moves the deadline, `hold release` lets it go on (finalizes,
// cluster stopped), and so does the deadline by itself. Bad input is
// refused, naming what is wrong.
func TestHoldEndToEnd(t *testing.T) {
	endToEnd(t)
	shared := t.TempDir()
	tm := startMaster(t, holdSuite(shared))
	const token = "e2e-api-token"
	hosts := []string{"s1.xrd.test", "s2.xrd.test", "s3.xrd.test"}

	code, out, errOut := tm.cli("run", "hd", "--token", token, "--hold", "1h")
	var id int64
	if _, err := fmt.Sscanf(out, "session %d of suite hd queued", &id); code != 0 || err != nil {
		t.Fatalf("run: exit %d %v\n%s%s", code, err, out, errOut)
	}
	held := awaitHeld(t, tm.Store, id)
	if d := time.Until(held.HoldUntil); d < 55*time.Minute || d > time.Hour {
		t.Errorf("held until %v, in %v", held.HoldUntil, d)
	}
	for _, h := range hosts {
		beating(t, shared, h)
		if n := finalized(shared, h); n != 0 {
			t.Errorf("%s: %d finalizes ran before the release", h, n)
		}
	}
	if !tm.backend.Running("cluster_e2e") {
		t.Fatal("the held session's cluster is not running")
	}
	if code, out, _ := tm.cli("status", fmt.Sprint(id)); code != 0 || !strings.Contains(out, "HELD until") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	code, out, errOut = tm.cli("hold", "extend", "--token", token, fmt.Sprint(id), "30m")
	if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("session %d held until ", id)) {
		t.Errorf("hold extend: exit %d\n%s%s", code, out, errOut)
	}
	if s, _ := tm.Store.Session(context.Background(), id); !s.HoldUntil.Equal(held.HoldUntil.Add(30 * time.Minute)) {
		t.Errorf("extended to %v, want %v", s.HoldUntil, held.HoldUntil.Add(30*time.Minute))
	}

	tm.checkRefusals(t, []cliRefusal{
		{[]string{"hold", "release", fmt.Sprint(id)}, 1, "token"}, // no token
		{[]string{"hold", "release", "--token", token, "999"}, 1, "no session 999"},
		{[]string{"hold", "extend", "--token", token, fmt.Sprint(id), "soon"}, 2, `"soon" is not a positive duration`},
		{[]string{"hold", "extend", "--token", token, fmt.Sprint(id), "5h"}, 1, "at the latest (max_hold 4h0m0s"},
		{[]string{"hold", "release", "--token", token}, 2, "usage: xrdtest hold release SESSION"},
	})
	if s, _ := tm.Store.Session(context.Background(), id); s.State != store.SessionHeld {
		t.Fatalf("refused actions changed the session: %s", s.State)
	}

	code, out, errOut = tm.cli("hold", "release", "--token", token, fmt.Sprint(id))
	if code != 0 {
		t.Fatalf("hold release: exit %d\n%s%s", code, out, errOut)
	}
	d := mastertest.Wait(t, tm.Master, id, time.Minute)
	if d.State != store.SessionFailed || d.Reason != "c:run failed on s2.xrd.test (exit 3)" {
		t.Errorf("after the release: %s (%s)", d.State, d.Reason)
	}
	for _, h := range hosts {
		if n := finalized(shared, h); n != 1 {
			t.Errorf("%s: %d finalizes, want 1", h, n)
		}
	}
	for deadline := time.Now().Add(20 * time.Second); tm.backend.Running("cluster_e2e"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cluster still runs after the released session ended")
		}
	}
	if code, _, errOut := tm.cli("hold", "release", "--token", token, fmt.Sprint(id)); code != 1 || !strings.Contains(errOut, "is not held (it is failed)") {
		t.Errorf("release of an ended session: exit %d: %s", code, errOut)
	}

	// The deadline lets it go on by itself.
	code, out, errOut = tm.cli("run", "hd", "--token", token, "--hold", "1s", "--wait")
	if code != 1 || !strings.Contains(out, "held until") || !strings.Contains(out, "FAILED") {
		t.Errorf("run --hold 1s --wait: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := fmt.Sscanf(out, "session %d of suite hd queued", &id); err != nil {
		t.Fatal(err)
	}
	evs, _ := tm.Store.Events(context.Background(), id)
	if !slices.ContainsFunc(evs, func(e store.Event) bool {
		return e.Message == "hold ended, released by the deadline: the session goes on"
	}) {
		t.Errorf("no deadline event in %+v", evs)
	}
	for _, h := range hosts {
		if n := finalized(shared, h); n != 2 {
			t.Errorf("%s: %d finalizes, want 2", h, n)
		}
	}
}

// TestHoldMasterKilled: a master killed with -9 while a session is held
// keeps the hold and its deadline when it comes back; the daemons the
// failing case started still run, and the release runs the finalizes.
func TestHoldMasterKilled(t *testing.T) {
	endToEnd(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	os.MkdirAll(shared, 0o755)
	testutil.WriteFiles(t, filepath.Join(dir, "repo"), e2eRepo(holdSuite(shared)))
	m := startKillableMaster(t, dir, nil)
	defer func() {
		if t.Failed() {
			t.Logf("master log:\n%s", m.log.String())
		}
	}()
	client := m.client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fp := waitFingerprint(t, &m.log)
	hosts := []string{"s1.xrd.test", "s2.xrd.test", "s3.xrd.test"}
	for _, h := range hosts {
		p := startSlaveProc(t, h, m.daemonAddr(), fp, filepath.Join(dir, h), shared)
		defer func() { p.cmd.Process.Signal(os.Interrupt); p.cmd.Wait() }()
	}
	s, err := client.StartWith(ctx, api.StartRequest{Suite: "hd", Hold: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	var held *api.SessionDetail
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if held, err = client.Session(ctx, s.ID); err == nil && held.State == api.SessionHeld {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d not held: %+v %v", s.ID, held, err)
		}
	}
	m.restart(t)
	d := m.awaitSession(t, ctx, s.ID)
	if d.State != api.SessionHeld || !d.HoldUntil.Equal(held.HoldUntil) {
		t.Fatalf("after the restart: %s until %v, want held until %v", d.State, d.HoldUntil, held.HoldUntil)
	}
	for _, h := range hosts {
		beating(t, shared, h)
	}
	// A second session of the suite waits for the held one's machines.
	next, err := client.Start(ctx, "hd", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Release(ctx, s.ID, "test"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if d, err = client.Session(ctx, s.ID); err == nil && d.State.Finished() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the released session did not end: %+v %v", d, err)
		}
	}
	if d.State != api.SessionFailed || d.Reason != "c:run failed on s2.xrd.test (exit 3)" {
		t.Errorf("after the release: %s (%s)", d.State, d.Reason)
	}
	for _, h := range hosts {
		if n := finalized(shared, h); n < 1 {
			t.Errorf("%s: the finalize did not run", h)
		}
	}
	if sn, err := client.Session(ctx, next.ID); err != nil || sn.Started.Before(d.Ended) && !sn.Started.IsZero() {
		t.Errorf("the next session started at %v, before the held one ended at %v (%v)", sn.Started, d.Ended, err)
	}
	// The next session's case starts the daemons again; its finalize
	// stops them. Ended before the slaves are: a slave leaves what a
	// finished stage started running, as a physical machine would.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if sn, err := client.Session(ctx, next.ID); err == nil && sn.State.Finished() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the next session %d did not end", next.ID)
		}
	}
	for _, h := range hosts {
		if n := finalized(shared, h); n < 2 {
			t.Errorf("%s: %d finalizes after the next session, want 2", h, n)
		}
	}
}
