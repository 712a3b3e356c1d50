package sqlstore

import (
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// NS converts a time to its column value: unix nanoseconds, NULL for zero.
func NS(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("%w: time %v out of range", store.ErrInvalid, t)
	}
	return t.UnixNano(), nil
}

// Bound is a condition of a session filter on created_ns: the column is
// Op ("<" or ">=") Value.
type Bound struct {
	Op    string
	Value any
}

// CreatedBounds are the conditions on created_ns of f: from f.From on,
// before f.To, each only when set.
func CreatedBounds(f store.Filter) ([]Bound, error) {
	var out []Bound
	for _, b := range []struct {
		t  time.Time
		op string
	}{{f.From, ">="}, {f.To, "<"}} {
		if b.t.IsZero() {
			continue
		}
		v, err := NS(b.t)
		if err != nil {
			return nil, err
		}
		out = append(out, Bound{b.op, v})
	}
	return out, nil
}

// Times converts several times, for query arguments.
func Times(ts ...time.Time) ([]any, error) {
	out := make([]any, len(ts))
	for i, t := range ts {
		v, err := NS(t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ScanNS scans a nanosecond column into *t (UTC; zero for NULL).
func ScanNS(t *time.Time) sql.Scanner { return nsTime{t} }

type nsTime struct{ t *time.Time }

func (n nsTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*n.t = time.Time{}
	case int64:
		*n.t = time.Unix(0, v).UTC()
	default:
		return fmt.Errorf("store: time column holds %T", v)
	}
	return nil
}
