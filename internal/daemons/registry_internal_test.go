package daemons

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/session"
)

// TestBusySlaveInfo: a busy slave's stage reads as its name and session,
// not the command's id, also while it is disconnected in its grace.
func TestBusySlaveInfo(t *testing.T) {
	r := NewRegistry(RegistryConfig{})
	r.addPending("client.xrd.test", &stageWait{cmd: session.StageCommand{ID: "7/2/client.xrd.test", Session: 7, Stage: 2, StageName: "slow:run"}})
	r.gone["client.xrd.test"] = time.Now()
	b, err := json.Marshal(r.Daemons())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"stage":"slow:run","session":7,"stage_index":2`, `"state":"disconnected"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("daemons lack %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "7/2/") {
		t.Errorf("the daemons show the stage command's id:\n%s", b)
	}
	if got := r.busyLocked("client.xrd.test"); got != "slow:run of session 7" {
		t.Errorf("busy: %q", got)
	}
}
