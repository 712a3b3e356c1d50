package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/api"
	"github.com/xrdtest/xrdtest/internal/store"
)

// TestTimelineFaults: a fault's window is shaded on the rows of the hosts
// it was set on, and only theirs, with its kind, id, who set it and when
// in its tooltip; one never healed runs to the session's end.
func TestTimelineFaults(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	cell := func(slave string) api.Cell {
		return api.Cell{Slave: slave, Status: store.StatusPassed, Start: at(0), End: at(100)}
	}
	v := &api.SessionView{
		Session: &store.Session{ID: 4, State: store.SessionPassed, Started: at(0), Ended: at(100)},
		Slaves:  []string{"a.xrd.test", "b.xrd.test", "c.xrd.test"},
		Stages:  []api.StageRow{{Name: "cut:run", Cells: []api.Cell{cell("a.xrd.test"), cell("b.xrd.test"), cell("c.xrd.test")}}},
		Faults: []api.Fault{
			{ID: "f01", Kind: "partition", Spec: "partition a.xrd.test b.xrd.test", Hosts: []string{"a.xrd.test", "b.xrd.test"},
				By: "c.xrd.test", Start: at(20), End: at(40)},
			{ID: "f02", Kind: "pause", Spec: "pause b.xrd.test", Hosts: []string{"b.xrd.test"}, By: "the fault schedule", Start: at(50)},
		},
	}
	tl := buildTimeline(v, at(200))
	var shades [3][]timelineFault
	for i, r := range tl.Rows {
		shades[i] = r.Faults
	}
	if len(shades[0]) != 1 || len(shades[1]) != 2 || len(shades[2]) != 0 {
		t.Fatalf("shades per row: %+v", shades)
	}
	x := func(s int) int { return tlLabel + (tlWidth-tlLabel-10)*s/100 }
	if f := shades[0][0]; f.X != x(20) || f.W != x(40)-x(20) || f.Kind != "partition" ||
		f.Title != "fault partition f01, set by c.xrd.test, 03:04:20 to 03:04:40: partition a.xrd.test b.xrd.test" {
		t.Errorf("partition on a: %+v", f)
	}
	if f := shades[1][1]; f.X != x(50) || f.W != x(100)-x(50) || !strings.Contains(f.Title, "03:04:50 to the session's end, not healed") {
		t.Errorf("pause on b: %+v", f)
	}

	h, err := New(Config{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/sessions/4", nil)
	h.render(rec, req, http.StatusOK, "session", h.newPage(req, "Session 4", "history", struct {
		*api.SessionView
		Timeline *timeline
		Cases    []string
		CanRerun bool
	}{v, tl, nil, false}))
	body := rec.Body.String()
	if n := strings.Count(body, `class="tl-fault fault-partition"`); n != 2 {
		t.Errorf("%d partition shades on the page, want 2 (a and b):\n%s", n, body)
	}
	if !strings.Contains(body, "<title>fault pause f02, set by the fault schedule, 03:04:50 to the session&#39;s end, not healed: pause b.xrd.test</title>") {
		t.Errorf("no tooltip of the pause:\n%s", body)
	}
}
