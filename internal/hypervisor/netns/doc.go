// Package netns is the hypervisor backend that runs each host of a
// cluster on this machine, without a VM, in network, mount, PID, UTS and
// IPC namespaces and a cgroup of its own: the cluster's network is a
// bridge in a network namespace of its own holding the network's
// address, and every host has a veth into that bridge, its defined
// address and a default route through the bridge. Nothing is added to the root namespace, so two clusters with
// the same subnet run side by side.
//
// A start, in order:
//
//   - plan.go checks the cluster (host names, addresses inside their
//     network and unique, disks that fit) and settles each host's address
//     (a stable one from the DHCP range for a host without one), names
//     and the cluster's DNS records (aliases round robin,
//     master.xrd.test);
//   - network.go creates the namespaces, veths, bridge, addresses and
//     routes with iproute2, named after a hash of the state folder and
//     the cluster, so that a stop, or a backend started again after a
//     crash, finds every one;
//   - dns.go starts dnsmasq in the cluster's namespace, on the gateway
//     address, and relays master.xrd.test's ports (the master's daemon
//     and web ports) from a socket on the gateway address, made in the
//     cluster's namespace by the backend itself, to the master on this
//     machine;
//   - host.go starts each host's holder (package holder, the hidden
//     `xrdtest __netns-host`): the first process of the host's own PID
//     namespace, born in its network namespace with new mount, UTS and
//     IPC namespaces, which mounts its /proc, binds its /etc/hosts,
//     /etc/hostname and /etc/resolv.conf and its private folders
//     (DefaultPrivateDirs, Config.PrivateDirs), mounts its disks (sparse
//     ext4 files on loop devices that go with the mount namespace), then
//     only reaps. Commands join the host through its enter script: the
//     host's cgroup (cgroup.go: v1 memory and pids below the
//     hypervisor's own groups, or v2; ramSize is the memory limit), then
//     nsenter into the holder's namespaces;
//   - backend.go starts one slave per host beside it (through nsenter,
//     once): in the host's mount, PID, UTS and IPC namespaces, so that
//     it starts each stage's bash with no other exec, but in the
//     machine's network namespace, so that its link to the master never
//     crosses the cluster's network, and in the cluster's control cgroup,
//     so that a paused host does not freeze it. A stage's bash is born in
//     the host's network namespace (forked from a thread that entered it)
//     and joins the host's cgroup before its first command (BASH_ENV:
//     package slave/inhost). The slaves run a link to the xrdtest binary
//     in the cluster's folder, which every host sees.
//
// Faults (fault.go, hypervisor.FaultInjector): partitions, isolation and
// packet loss are iptables rules in the hosts' own network namespaces,
// rates and delays tc queue disciplines on both ends of a host's link,
// a pause the host cgroup's freezer, a kill SIGKILL to the processes of
// that name in the host's cgroup (never its holder or its slave), a fill
// files on one of the host's disks; each is recorded with its undo in
// faults.json, which a backend started again after a crash heals.
//
// A stop kills the holders, which ends every process of each host
// (double-forked daemons included) and its mounts; the slaves and the
// DNS server are ended through their cgroup; then the cgroups,
// namespaces and folders are removed. Processes outlive a crashed
// backend; New adopts the clusters whose hosts, DNS server and slaves
// all still run and removes the others.
//
// cgroups, what is tested where: cgroup v1 (memory and pids controllers)
// by every test that starts hosts, on the machines CI runs on. cgroup v2
// by TestCgroupV2Kernel on a cgroup2 mount of its own: with the memory and
// pids controllers (a v2-only machine, or the VM TestCgroupV2InVM boots,
// whose only hierarchy is v2: CI runs it beside the libvirt tests) the
// layout, memory.max enforced by the kernel (an entered command past the
// limit is OOM-killed), the enter script joining the group, listing,
// killing and removing groups, a leftover group removed by its prefix and
// Check's probe; on a hybrid machine (controllers bound to v1, cgroup2
// holding none of them) the refusal naming them. Not tested on cgroup v2:
// a whole cluster (namespaces, dnsmasq, holders, slaves: the VM has no
// iproute2 or dnsmasq), and a hypervisor under systemd or in a container
// with a cgroup namespace.
//
// Limits: disks are made anew at every start (Disk.Cache is ignored);
// a host's processes share the machine's users, kernel and the file
// system outside the private folders; private folders and disk mount
// points missing on the machine are created there (empty) for the bind
// and left there: removing one would detach it from the hosts of every
// other cluster that mounts it.
package netns
