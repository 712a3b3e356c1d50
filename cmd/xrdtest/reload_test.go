package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/testutil"
)

// TestReloadCommand: `xrdtest master` with a git repository and a localfs
// one; `xrdtest reload` fetches at once and reports the revisions and the
// problems, a clash between the repositories among them.
func TestReloadCommand(t *testing.T) {
	testutil.HermeticGit(t)
	dir := t.TempDir()
	u := testutil.NewUpstream(t, e2eRepo(map[string]string{
		"hello/test_suite.py":   suiteDef("hello", "", "greet"),
		"hello/init.sh":         "#!/bin/bash\n",
		"hello/tc/greet/run.sh": "#!/bin/bash\necho hello\n",
	}))
	testutil.WriteFiles(t, filepath.Join(dir, "local"), map[string]string{"clusters/.keep": "", "test-suites/.keep": ""})
	webPort := freePort(t)
	testutil.WriteFiles(t, dir, map[string]string{"master.conf": fmt.Sprintf(`[general]
test-repos = defs, local
state_dir = state

[test-repo-defs]
type = git
remote_repo = %s
local_path = checkout
poll_interval = 1h

[test-repo-local]
type = localfs
local_path = local

[server]
ip = 127.0.0.1
port = %d

[webserver]
port = %d
api_token = reload-token

[scheduler]
enabled = 0
`, u.Bare, freePort(t), webPort)})
	ctx, cancel := context.WithCancel(context.Background())
	var masterOut, masterErr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"master", "-c", filepath.Join(dir, "master.conf")}, &masterOut, &masterErr)
	}()
	defer func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("master log:\n%s", masterErr.String())
		}
	}()
	webURL := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(webURL + "/api/v1/status"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the master did not start:\n%s", masterErr.String())
		}
	}
	reload := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"reload", "--master", webURL}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	rev1 := testutil.Git(t, u.Work, "rev-parse", "HEAD")
	code, out, errOut := reload("--token", "reload-token")
	if code != 0 || !strings.Contains(out, "defs   git      "+rev1+"  origin/master of "+u.Bare) ||
		!strings.Contains(out, "local  localfs  sha256:") || !strings.Contains(out, "1 clusters, 1 suites") {
		t.Errorf("reload: exit %d\n%s%s", code, out, errOut)
	}

	rev2 := u.Commit("second suite", map[string]string{
		"test-suites/bye/test_suite.py":  suiteDef("bye", "", "wave"),
		"test-suites/bye/init.sh":        "#!/bin/bash\n",
		"test-suites/bye/tc/wave/run.sh": "#!/bin/bash\n",
	})
	testutil.WriteFiles(t, filepath.Join(dir, "local"), map[string]string{"clusters/cluster_e2e.py": cluster3})
	code, out, errOut = reload("--token", "reload-token", "--json")
	var rep api.ReloadReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s%s", err, out, errOut)
	}
	if code != 1 || rep.Repos[0].Revision != rev2 || rep.Suites != 2 {
		t.Errorf("reload after a commit and a clash: exit %d, %+v", code, rep)
	}
	clash := `cluster name "cluster_e2e" is already used by cluster "cluster_e2e" in ` + filepath.Join(dir, "checkout", "clusters", "cluster_e2e.py")
	if len(rep.Errors) != 1 || rep.Errors[0].Repo != "local" || rep.Errors[0].File != "clusters/cluster_e2e.py" || rep.Errors[0].Message != clash {
		t.Errorf("errors %+v, want the clash naming both files", rep.Errors)
	}

	if code, _, errOut := reload("--token", "wrong"); code != 1 || !strings.Contains(errOut, "valid API token") {
		t.Errorf("wrong token: exit %d: %s", code, errOut)
	}
}
