package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/views"

	"github.com/xrdtest/xrdtest/internal/daemons"
	"github.com/xrdtest/xrdtest/internal/session"
	"github.com/xrdtest/xrdtest/internal/store/sqlite/sqlitetest"
)

// TestDashboardEmptyLists: with nothing running and no history, the
// dashboard's lists are [], not null (the busy slave's fields are
// daemons.TestBusySlaveInfo's).
func TestDashboardEmptyLists(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t, t.TempDir())
	v := &views.Views{Manager: &session.Manager{}, Registry: daemons.NewRegistry(daemons.RegistryConfig{}), Store: st}
	d, err := v.Dashboard(ctx, views.DefaultStatsDays)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	for _, want := range []string{`"active":[]`, `"per_day":[]`, `"slaves":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("dashboard lacks %s:\n%s", want, b)
		}
	}
}
