// Package definition loads cluster and test-suite definitions written for the
// original XrdTest framework, unchanged, and validates them.
//
// Definition files are Python. They are evaluated with Starlark, a
// deterministic and sandboxed Python dialect: no imports (the
// `from XrdTest... import` lines are blanked, keeping line numbers), no I/O,
// no load(), a bounded number of execution steps. The objects a file builds
// (Cluster, Network, Host, Disk, TestSuite) behave as mutable Python
// references, so `net = cluster.network; net.ip = ...` edits the cluster.
//
// Loading runs in two phases per file:
//
//	evaluate (eval.go, objects.go)  ->  convert + validate (cluster.go, suite.go)
//
// Evaluation produces Starlark objects that remember where each attribute was
// set, so validation errors name the line of the assignment. Conversion turns
// them into the plain model (model.go) that the rest of xrdtest uses. A broken
// file never prevents the others from loading: every problem becomes a
// Diagnostic naming the file and, where meaningful, the line.
package definition
