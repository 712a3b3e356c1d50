// Package netns is the hypervisor backend that runs each host of a
// cluster in network namespaces of its own, on this machine, without a
// VM: the cluster's network is a bridge in a namespace of its own holding
// the network's address, and every host a namespace with a veth into
// that bridge, its defined address and a default route through the
// bridge. Nothing is added to the root namespace, so two clusters with
// the same subnet run side by side.
//
// What is built so far, in the order a start runs it:
//
//   - plan.go checks a cluster (host names, addresses inside their
//     network and unique, disks that fit) and settles what the start
//     needs: each host's address (a stable one from the DHCP range for a
//     host without one), its names, and the DNS records of the cluster
//     (aliases round robin, master.xrd.test);
//   - network.go creates and removes the namespaces, veths, bridge,
//     addresses and routes with iproute2, named after the cluster so that
//     a stop, or a hypervisor restarted after a crash, finds every one.
//   - host.go starts each host's holder (holder.go, the hidden
//     `xrdtest __netns-host`): the first process of the host's own PID
//     namespace, born in its network namespace with new mount, UTS and
//     IPC namespaces, which mounts its /proc, binds its /etc/hosts,
//     /etc/hostname and /etc/resolv.conf and its private folders
//     (DefaultPrivateDirs), then only reaps. Commands join the host
//     through its enter script: the host's cgroup (cgroup.go: v1 memory
//     and pids below the hypervisor's own groups, or v2; ramSize is the
//     memory limit), then nsenter into the holder's namespaces. Killing
//     the holder ends every process of the host, double-forked daemons
//     included, and its mounts with its mount namespace.
//
// The backend itself (hypervisor.Backend: slaves, DNS server, disks,
// re-adoption) is not wired yet; the factory does not
// offer it.
package netns
