// Package proctree stops trees of processes and reaps what they orphan:
// the slave runner stops a stage script with everything it started, and
// the local hypervisor backend stops what a cluster's slaves left running.
//
// A tree is found by a marker, a KEY=VALUE entry that its first process
// puts in its environment and every descendant inherits; children that
// left the process group (setsid) still carry it.
//
// # Killing
//
// KillTree stops a tree whose main process leads its own process group:
//
//	SIGTERM -> process group and every process with the marker
//	   |  wait for the main process and all marker processes, at most grace
//	   v       (a process that traps TERM and exits cleanly ends here)
//	SIGKILL -> process group and every marker process, rescanning /proc
//	   |       until none is left (new ones may have been forked)
//	   v
//	reap the killed processes reparented to us
//
// KillMarked stops every process with a marker, with no main process.
//
// Marker processes are found by reading /proc/PID/environ and held by
// pidfd (Linux >= 5.3; plain pids before), opened before the marker is
// checked, so a recycled pid is never signalled or reaped. A process that
// clears its environment, or overwrites it in memory (setproctitle), and
// leaves the process group escapes; a cgroup per tree would close that gap.
//
// # Reaping
//
// A daemon that calls BecomeSubreaper adopts the orphans of its children
// and must reap them when they exit: RunReaper does. Reaping must not steal
// the exit status that os/exec's Wait is waiting for, so there is no
// wait(-1) loop: KillTree reaps exactly the processes it killed, through
// their pidfds (waitid P_PIDFD, WNOHANG), and ReapOrphans reaps only zombie
// children outside the daemon's own process group that StartCommand did
// not start; see ReapOrphans.
package proctree
