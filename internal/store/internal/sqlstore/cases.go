package sqlstore

import (
	"cmp"
	"slices"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// CaseSession is a session of the window of store.CaseResults.
type CaseSession struct {
	ID       int64
	Created  time.Time
	Revision string
}

// CaseRow is a row of store.CaseResults as read, with Order, the
// result's insertion order.
type CaseRow struct {
	store.CaseResult
	Order int64
	rank  int // of its session, newest first
}

// SortCaseResults orders the rows as store.CaseResults returns them
// (newest session first, then by stage, then in insertion order) and
// fills in their sessions' creation times and revisions.
func SortCaseResults(sessions map[int64]CaseSession, rows []CaseRow) []store.CaseResult {
	// Rank the sessions once: comparing times in the sort of tens of
	// thousands of rows costs more than the query.
	order := make([]CaseSession, 0, len(sessions))
	for _, s := range sessions {
		order = append(order, s)
	}
	slices.SortFunc(order, func(a, b CaseSession) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(b.ID, a.ID))
	})
	rank := make(map[int64]int, len(order))
	for i, s := range order {
		rank[s.ID] = i
	}
	for i := range rows {
		rows[i].rank = rank[rows[i].Session]
	}
	slices.SortFunc(rows, func(a, b CaseRow) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.StageIndex, b.StageIndex), cmp.Compare(a.Order, b.Order))
	})
	out := make([]store.CaseResult, len(rows))
	for i, r := range rows {
		out[i] = r.CaseResult
		s := sessions[r.Session]
		out[i].Created, out[i].Revision = s.Created, s.Revision
	}
	return out
}
