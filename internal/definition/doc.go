// Package definition loads cluster and test-suite definitions written for the
// original XrdTest framework, unchanged, and validates them.
//
// Loading runs in two phases per file:
//
//	evaluate (package pyeval)  ->  convert + validate (cluster.go, suite.go)
//
// Evaluation runs the Python file in a Starlark sandbox and produces
// objects that remember where each attribute was set, so validation errors
// name the line of the assignment. Conversion turns them into the plain
// model (model.go) that the rest of xrdtest uses. A broken file never
// prevents the others from loading: every problem becomes a Diagnostic
// naming the file and, where meaningful, the line.
package definition
