package main

import (
	"math"
	"testing"
)

// TestBudget checks the per-result figures the barrier prints: CPU
// seconds over rounds x slaves, and the master's share of 1.3x the echo.
func TestBudget(t *testing.T) {
	f := &floorRound{Slaves: 100, Rounds: 200, ServerCPUS: 0.72, ClientsCPUS: 0.74}
	r := &round{Slaves: 100, Stages: 200, MasterCPUS: 1.64, SlavesCPUS: 0.84}
	b := budgetOf(f, r)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"master", b.master, 82},
		{"slaves", b.slaves, 42},
		{"echo server", b.echoServer, 36},
		{"echo clients", b.echoClients, 37},
		// 1.3 x (36 + 37) - 42
		{"master budget", b.masterBudget(), 52.9},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v us, want %v", c.what, c.got, c.want)
		}
	}
}
