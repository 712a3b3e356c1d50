package store

import (
	"context"
	"fmt"
)

// ResultReader is an optional ability of a Store: reading results without
// their scripts, and one result alone. A session of 1000 slaves holds tens
// of MiB of scripts, which a live view polling the matrix must not read
// every time. Use the functions [ResultSummaries] and [OneResult], which
// fall back on Results for stores without it.
type ResultReader interface {
	// ResultSummaries is Results with every Script left empty.
	ResultSummaries(ctx context.Context, session int64) ([]*Result, error)
	// Result returns one result, with its script; ErrNotFound when absent.
	Result(ctx context.Context, session int64, stage int, slave string) (*Result, error)
}

// ResultSummaries returns the results of a session without their scripts.
func ResultSummaries(ctx context.Context, st Store, session int64) ([]*Result, error) {
	if rr, ok := st.(ResultReader); ok {
		return rr.ResultSummaries(ctx, session)
	}
	rs, err := st.Results(ctx, session)
	for _, r := range rs {
		r.Script = ""
	}
	return rs, err
}

// OneResult returns one result of a session, with its script; ErrNotFound
// when absent.
func OneResult(ctx context.Context, st Store, session int64, stage int, slave string) (*Result, error) {
	if rr, ok := st.(ResultReader); ok {
		return rr.Result(ctx, session, stage, slave)
	}
	rs, err := st.Results(ctx, session)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Stage == stage && r.Slave == slave {
			return r, nil
		}
	}
	return nil, fmt.Errorf("result of session %d stage %d slave %s: %w", session, stage, slave, ErrNotFound)
}
