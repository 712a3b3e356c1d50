// Package views builds what the web pages and the JSON API show: the
// dashboard, statistics, clusters, hypervisors, suites, history and a
// session's stage matrix, from the history (store), the session manager,
// the connected daemons and the definitions. Both read through the same
// functions, so a page and its API answer never disagree. It also opens a
// stage's output to follow it live (OutputFollower) and a collected log.
package views
