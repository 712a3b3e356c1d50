// Package httpapi is the master's web port but for the pages: the JSON API
// under /api/v1 (reads public or token-protected, actions behind a bearer
// token), the actions the API and the pages share (Actions; a shell on a
// session's host is one, a WebSocket: shell.go), JUnit export,
// /metrics, script download (/downloadScript, /showScript) and the
// original's test credential endpoints. Site holds the port's one route
// table, the pages' routes (package web) included, and the checks the
// whole port makes (guard: Host, methods, HSTS); Bearer checks tokens,
// throttled per address; Streams bounds the responses that stay open.
// What the API shows comes from package views, as the pages' does.
package httpapi
