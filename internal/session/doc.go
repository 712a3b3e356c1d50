// Package session carries out test sessions: it queues a session until
// its machines are free (reservation), starts and stops the suite's
// clusters, waits for the slaves, runs the stage plan in lock-step (the
// barrier engine, barrier.go, with the failure rules of DEFINITIONS.md
// d, progress.go), holds a failed session with its cluster up when asked
// (hold.go), records the results in batches, answers the scripts'
// `xrdtest sync` calls (SyncHub), opens and closes the scopes of their
// faults (package faults) and collects the suite's logs.
//
// It depends on small interfaces only: Slaves (dispatch to the slaves,
// their connection, log collection; package daemons implements it over
// gRPC), hypervisor.Backend (clusters), TokenIssuer and store.Store. It
// knows nothing of gRPC or HTTP.
//
// Its tests run whole sessions of the Manager against simulated slaves
// (package sessiontest), in milliseconds; the tests of package master
// run them end to end, with real slave processes.
package session
