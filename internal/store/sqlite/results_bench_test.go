package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
)

// benchmarkPutResults writes batches of results, as the master's results
// writer does during a stage: the cost per row against the batch size.
func benchmarkPutResults(b *testing.B, batch int) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	se := &store.Session{Suite: "s", State: store.SessionRunning, Machines: []string{"a"}}
	if err := s.CreateSession(ctx, se); err != nil {
		b.Fatal(err)
	}
	code := 0
	t0 := time.Now()
	rs := make([]*store.Result, batch)
	b.ResetTimer()
	stage := 0
	for i := 0; i < b.N; i++ {
		for j := range rs {
			rs[j] = &store.Result{SessionID: se.ID, Stage: stage, Slave: fmt.Sprintf("h%04d.bench.test", j), Status: store.StatusPassed, ExitCode: &code,
				Start: t0, End: t0, Script: "#!/bin/bash\ntrue\n"}
		}
		stage++
		if err := s.PutResults(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch)/1000, "us/row")
}

func BenchmarkPutResults1(b *testing.B)   { benchmarkPutResults(b, 1) }
func BenchmarkPutResults10(b *testing.B)  { benchmarkPutResults(b, 10) }
func BenchmarkPutResults100(b *testing.B) { benchmarkPutResults(b, 100) }
