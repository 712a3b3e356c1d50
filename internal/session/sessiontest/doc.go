// Package sessiontest is the in-memory twin of the slaves for testing
// package session: whole sessions of the real session.Manager run in
// milliseconds, without processes, gRPC or sleeps.
//
//   - Slaves implements session.Slaves with simulated slaves. Each stage
//     plays the Steps its rules give it (Slaves.On, by slave and stage
//     name patterns, or Slaves.OnFunc): Exit, Output, Hang until
//     cancelled, BlockUntil (a slave that confirms nothing), TimeOut,
//     Disconnect and Reconnect within the grace, Vanish (lost), and the
//     sync calls of `xrdtest sync` through the session.SyncHub (Barrier,
//     Signal, WaitSignals). Slaves connect late (Connect) or never;
//     CollectLogs serves the files of SetLogs.
//   - Everything they do is an Event, numbered in order: lock-step
//     assertions compare the numbers (Run.Start, Run.End), not times,
//     and Slaves.Await blocks until an event happened instead of
//     sleeping.
//   - Clusters is a hypervisor.Backend whose clusters connect their
//     hosts' slaves when they start (Harness.UseClusters); a start fails
//     on command (FailStart).
//   - Clock is a fake session.Clock, moved by Advance.
//   - Harness wires a session.Manager to all of that and to a SQLite
//     store in t.TempDir() (opened in about 5 ms; there is no
//     in-memory store.Store, and the real one keeps the tests honest).
//
// # Time
//
// The session code waits on its own for one thing only: the result
// batcher shows a running stage once it ran for a second (runningDelay).
// That is behind session.Clock, so a test that needs a stage recorded as
// running advances the fake Clock instead of waiting a second. The other
// waits are the real time, which keeps the tests fast without a clock:
//
//   - stage timeouts are enforced by the slaves' runner, not the session;
//     TimeOut reports one at once (StageCommand.Timeout is recorded);
//   - the wait for the slaves is bounded by Settings.SlaveWait: it ends as
//     soon as they are connected, and a test of a slave that never comes
//     sets it to a few milliseconds (20 ms in the tests here);
//   - a sync call's timeout is the script's (Slaves.SyncTimeout), already
//     tested with 50 ms in SyncHub's own tests;
//   - the reconnect grace of Disconnect runs on Slaves.Clock: with the
//     fake one a test loses the slave by advancing it.
//
// Measured on the shared 2-core test machine: a test of one session in
// package session takes 10 to 50 ms (the package 1 to 2 s), 100 to
// 250 ms under -race (the package 6 s).
package sessiontest
