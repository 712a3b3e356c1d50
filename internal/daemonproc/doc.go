// Package daemonproc owns what the xrdtest daemons (master, hypervisor,
// slave) share as Linux processes, from the [daemon] section of their
// configuration: the structured logger (standard error, or a log file that
// SIGHUP reopens, for logrotate), the pid file (written atomically,
// refused while another live process holds it), and the hang-up signal.
// SIGTERM and SIGINT are not its business: they end the context main
// gives the daemons.
package daemonproc
