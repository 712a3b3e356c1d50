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
//
// The backend itself (hypervisor.Backend: slaves, DNS server, mount, PID
// and cgroup isolation, disks) is not wired yet; the factory does not
// offer it.
package netns
