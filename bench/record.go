package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/sqlite"
)

// recordCost is the CPU per row of recording stage results as the
// master's results writer does at these slave counts: PutResults of
// batches of batch rows into a fresh SQLite store. It is the least of
// the master's work per result beyond the echo's.
func recordCost(ctx context.Context, tmp string, rows, batch int) (time.Duration, error) {
	dir, err := tempDir(tmp, "xrdtest-bench-record-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	se := &store.Session{Suite: "bench", State: store.SessionRunning, Machines: []string{"h0000.bench.test"}}
	if err := s.CreateSession(ctx, se); err != nil {
		return 0, err
	}
	code, t0 := 0, time.Now()
	rs := make([]*store.Result, batch)
	cpu0 := selfCPU()
	for stage := range rows / batch {
		for j := range rs {
			rs[j] = &store.Result{SessionID: se.ID, Stage: stage, Slave: fmt.Sprintf("h%04d.bench.test", j), Status: store.StatusPassed,
				ExitCode: &code, Start: t0, End: t0, Script: "#!/bin/bash\ntrue\n"}
		}
		if err := s.PutResults(ctx, rs); err != nil {
			return 0, err
		}
	}
	return (selfCPU() - cpu0) / time.Duration(rows/batch*batch), nil
}
