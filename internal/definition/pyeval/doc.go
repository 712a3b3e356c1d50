// Package pyeval evaluates one definition file written for the original
// XrdTest framework: Python, run as Starlark, a deterministic and sandboxed
// Python dialect. No imports (the `from XrdTest... import` lines are
// blanked, keeping line numbers), no I/O, no load(), bounded execution
// steps and memory.
//
// It owns the framework's classes (Cluster, Network, Host, Disk,
// TestSuite, TestCase) as the definitions see them: their constructors,
// defaults and side effects (naming a cluster names its network, addHost
// copies the default host's values...). Their instances are mutable Python
// references, so `net = cluster.network; net.ip = ...` edits the cluster,
// and they remember the line of each assignment so that validation can
// name it. Evaluate returns the root object; turning it into the model
// and validating it is the job of package definition.
package pyeval
