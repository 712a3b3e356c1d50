// Package store is the contract of the history of the xrdtest master: test
// sessions, their stages and per-slave results, the output of every slave's
// stage, the log files collected from the slaves after a session, a
// per-session event log and the enabled/disabled state of the suites; and
// what its callers share whatever the implementation: a session's detail
// ([ReadDetail]), results without their scripts ([ResultSummaries]) and the
// retention of the history ([RunRetention]).
//
// Everything survives a restart of the master. The [Store] interface is the
// contract; it has two implementations, which keep the same directory:
//
//	history.db                          SQLite database (WAL mode), for package sqlite
//	outputs/<session>/<stage>/<slave>.out   output of one slave's stage
//	logs/<session>/<slave>/<path>       log files collected after a session
//
// Package sqlite (sqlite.Open) is the default and needs nothing else.
// Package postgres (postgres.Open) keeps the metadata in a PostgreSQL
// database instead, for big installations, and the files in the directory
// as SQLite does.
//
// Metadata lives in the database; outputs and logs are plain files so that
// they have no size cap, are written and read with bounded memory and can be
// read (tailed) while they are still being written (package
// internal/files, shared by the implementations, keeps them). Every path
// component derived from user data (slave names, log paths) is escaped by a
// reversible, injective percent encoding, so that nothing can escape the
// directory and two different names never share a file.
//
// The shared behaviour tests of the interface are in package storetest; they
// run against both implementations (package pgtest provides the PostgreSQL
// server of the tests).
package store
