// Package runner runs the stage scripts of the xrdtest slave daemon: the
// init, run and finalize scripts of suites and test cases that the master
// sends, one stage at a time.
//
// # Running
//
// Run writes the script to Dir/.xrdtest/stage-<id>.sh (mode 0700, removed
// afterwards) and runs "bash FILE" in Dir with stdin /dev/null, stdout and
// stderr on the same pipe (so their order is kept), in its own process
// group, with the slave's environment plus Spec.Env plus XRDTEST_RUN_ID=<id>,
// a random marker that every descendant inherits. Output is passed to
// Spec.Output in chunks (at most 64 KiB, at most 100 ms late) from one
// goroutine, with a single reused buffer: a slow consumer blocks the script
// instead of filling memory.
//
// When the script's main process exits by itself, its background children
// are left running: a stage may start a service that later stages use. If
// such a child still holds stdout, output is read for Spec.Drain more and
// the pipe is closed; the child then gets EPIPE (or SIGPIPE) if it writes
// again, so long-lived services should redirect their output.
//
// # Killing
//
// On timeout or ctx cancellation the whole tree is stopped with
// proctree.KillTree: SIGTERM to the process group and to every process
// with the marker (children that called setsid left the group, not the
// marker), SIGKILL after Grace, then the killed processes are reaped.
//
// # Reaping
//
// The slave daemon is a child subreaper (proctree.BecomeSubreaper), so
// orphaned descendants of the scripts are reparented to it rather than to
// init, and it reaps them with proctree.RunReaper. Run starts the script
// with proctree.StartCommand, so that reaping never steals the exit status
// it waits for.
//
// # functions.sh
//
// FunctionsSh is the helper library scripts source from FunctionsPath
// (log, run, stamp, assert_fail); InstallFunctions writes it.
package runner
