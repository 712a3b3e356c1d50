// Package api owns the master's JSON API under /api/v1 as its clients see
// it: the wire types of every endpoint's request and answer, with the JSON
// field names, omitempty and null/[] behaviour the master sends, and
// [Client], which calls the endpoints with a token and an optional CA.
//
// The package imports only the standard library, so the command line, the
// benchmarks and the tests read the API without depending on the master's
// internals; a contract test decodes a real master's answers into these
// types with unknown fields disallowed.
package api
