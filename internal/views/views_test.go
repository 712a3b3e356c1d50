package views

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/xrdtest/xrdtest/internal/api"

	"github.com/xrdtest/xrdtest/internal/store"
)

func TestParseHistoryQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  api.HistoryQuery
		bad   bool
	}{
		{"", api.HistoryQuery{Page: 1, PerPage: DefaultPerPage}, false},
		{"suite=hello&state=failed&state=passed&state=failed&from=2024-01-01&to=2024-01-31&page=3&per_page=100",
			api.HistoryQuery{Suite: "hello", States: []store.SessionState{"failed", "passed"}, From: "2024-01-01", To: "2024-01-31", Page: 3, PerPage: 100}, false},
		{"state=", api.HistoryQuery{Page: 1, PerPage: DefaultPerPage}, false},
		{"state=weird", api.HistoryQuery{}, true},
		{"page=0", api.HistoryQuery{}, true},
		{"page=1e3", api.HistoryQuery{}, true},
		{"per_page=501", api.HistoryQuery{}, true},
		{"from=2024-13-01", api.HistoryQuery{}, true},
		{"from=1900-01-01", api.HistoryQuery{}, true},
		{"from=2024-02-01&to=2024-01-31", api.HistoryQuery{}, true},
		{"suite=a%0Ab", api.HistoryQuery{}, true},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := ParseHistoryQuery(q)
		if tc.bad {
			if !errors.Is(err, ErrBadQuery) {
				t.Errorf("%q: %v, want ErrBadQuery", tc.query, err)
			}
			continue
		}
		if err != nil || got.Suite != tc.want.Suite || !slices.Equal(got.States, tc.want.States) || got.From != tc.want.From ||
			got.To != tc.want.To || got.Page != tc.want.Page || got.PerPage != tc.want.PerPage {
			t.Errorf("%q: %+v, %v; want %+v", tc.query, got, err, tc.want)
			continue
		}
		// Values gives the same query back.
		again, err := ParseHistoryQuery(got.Values())
		if err != nil || again.Suite != got.Suite || !slices.Equal(again.States, got.States) || again.Page != got.Page || again.PerPage != got.PerPage {
			t.Errorf("%q: round trip %+v, %v", tc.query, again, err)
		}
	}
}

func TestSummarize(t *testing.T) {
	cells := func(ss ...store.Status) []api.Cell {
		var out []api.Cell
		for _, s := range ss {
			out = append(out, api.Cell{Status: s})
		}
		return out
	}
	for _, tc := range []struct {
		cells []api.Cell
		ended bool
		want  store.Status
	}{
		{cells(store.StatusPassed, store.StatusRunning), false, store.StatusRunning},
		{cells(store.StatusPassed, store.StatusPassed), false, store.StatusRunning}, // the stage has not ended
		{cells(store.StatusPassed, store.StatusPassed), true, store.StatusPassed},
		{cells(store.StatusPassed, store.StatusLost), true, store.StatusFailed},
		{cells(store.StatusTimeout, store.StatusCancelled), true, store.StatusFailed},
		{cells(store.StatusCancelled, store.StatusPassed), true, store.StatusCancelled},
		{cells(store.StatusSkipped, store.StatusSkipped), true, store.StatusSkipped},
		{nil, true, store.StatusPending},
	} {
		if got := summarize(tc.cells, tc.ended); got != tc.want {
			t.Errorf("%v (ended %v): %s, want %s", tc.cells, tc.ended, got, tc.want)
		}
	}
}
