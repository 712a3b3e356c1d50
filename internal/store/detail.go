package store

import (
	"context"
	"slices"

	"github.com/xrdtest/xrdtest/internal/api"
)

// SessionDetail is a session with its stages and per-slave results, and
// StageDetail a stage with its results: the API's wire types.
type (
	SessionDetail = api.SessionDetail
	StageDetail   = api.StageDetail
)

// Detail loads a session with its stages and results, in the order of
// the session's machines.
func Detail(ctx context.Context, st Store, id int64) (*SessionDetail, error) {
	return ReadDetail(ctx, st, id, true)
}

// ReadDetail is Detail, without the results' scripts unless scripts (a
// session's page and API answer need no scripts and are much smaller).
func ReadDetail(ctx context.Context, st Store, id int64, scripts bool) (*SessionDetail, error) {
	s, err := st.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	stages, err := st.Stages(ctx, id)
	if err != nil {
		return nil, err
	}
	read := st.Results
	if !scripts {
		read = func(ctx context.Context, id int64) ([]*Result, error) {
			return ResultSummaries(ctx, st, id)
		}
	}
	results, err := read(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &SessionDetail{Session: s, Stages: make([]StageDetail, len(stages))}
	byIndex := map[int]int{}
	for i, stg := range stages {
		d.Stages[i] = StageDetail{Stage: stg, Results: []*Result{}}
		byIndex[stg.Index] = i
	}
	for _, res := range results {
		if i, ok := byIndex[res.Stage]; ok {
			d.Stages[i].Results = append(d.Stages[i].Results, res)
		}
	}
	// Results in the order of the session's machines, whatever order the
	// slaves finished in.
	rank := map[string]int{}
	for i, m := range s.Machines {
		rank[m] = i
	}
	for _, st := range d.Stages {
		slices.SortStableFunc(st.Results, func(a, b *Result) int { return rank[a.Slave] - rank[b.Slave] })
	}
	return d, nil
}
