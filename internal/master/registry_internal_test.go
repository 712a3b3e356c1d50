package master

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// TestDashboardBusySlave: a busy slave's stage reads as its name and
// session, not the command's id; empty lists are [], not null.
func TestDashboardBusySlave(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := NewRegistry()
	r.addPending("client.xrd.test", &stageWait{cmd: StageCommand{ID: "7/2/client.xrd.test", Session: 7, Stage: 2, StageName: "slow:run"}})
	r.gone["client.xrd.test"] = time.Now()
	v := &Views{Manager: &Manager{}, Registry: r, Store: st}
	d, err := v.Dashboard(ctx, DefaultStatsDays)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	for _, want := range []string{`"stage":"slow:run","session":7,"stage_index":2`, `"active":[]`, `"per_day":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("dashboard lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "7/2/") {
		t.Errorf("the dashboard shows the stage command's id:\n%s", b)
	}
	if got := r.busyLocked("client.xrd.test"); got != "slow:run of session 7" {
		t.Errorf("busy: %q", got)
	}
}
