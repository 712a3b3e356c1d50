// Package catalog keeps the master's current definitions: it loads the
// definition repositories (folders on disk, and git checkouts it clones
// and fetches), reloads them when files change, at each git poll and when
// asked, keeps a suite's last good definition when a change breaks it,
// and reports each repository's revision, fetch errors and the
// definitions' errors and warnings. Sessions take a snapshot
// (Definitions) and keep it while they run.
package catalog
