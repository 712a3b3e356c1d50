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
// On timeout or ctx cancellation the whole tree is stopped:
//
//	SIGTERM -> process group and every process with the marker
//	   |       (children that called setsid left the group, not the marker)
//	   |  wait for the main process and all marker processes, at most Grace
//	   v       (a script that traps TERM and exits cleanly ends here)
//	SIGKILL -> process group and every marker process, rescanning /proc
//	   |       until none is left (new ones may have been forked)
//	   v
//	reap the killed processes reparented to the slave
//
// Marker processes are found by reading /proc/PID/environ and held by
// pidfd (Linux >= 5.3; plain pids before), opened before the marker is
// checked, so a recycled pid is never signalled or reaped. A process that
// clears its environment, or overwrites it in memory (setproctitle), and
// leaves the process group escapes; a cgroup per run would close that gap.
//
// # Reaping
//
// The daemon calls BecomeSubreaper at start, so orphaned descendants of
// the scripts are reparented to it rather than to init, and runs RunReaper
// to reap them when they exit. Reaping must not steal the exit status that
// os/exec's Wait is waiting for, so there is no wait(-1) loop: the killing
// above reaps exactly the processes it killed, through their pidfds
// (waitid P_PIDFD, WNOHANG), and ReapOrphans reaps only zombie children
// outside the daemon's own process group that Run (or StartCommand) did not
// start; see ReapOrphans.
//
// # functions.sh
//
// FunctionsSh is the helper library scripts source from FunctionsPath
// (log, run, stamp, assert_fail); InstallFunctions writes it.
package runner
