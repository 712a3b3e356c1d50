// Package lvxml is what the libvirt backend writes and names, without a
// connection to libvirtd: the libvirt XML of a cluster's network, its
// hosts' domains and their volumes (built with libvirtxml from a
// hypervisor.ClusterSpec), the ownership metadata element (Owner,
// MetadataNS) those objects carry and its parsing, the names of the
// domains, networks and volumes (DomainName, NetworkName, ...), and the
// check that a new network collides with none libvirt already has
// (CheckCollisions). It is pure and tested against golden files
// (testdata/*.golden, go test -update rewrites them); the package
// libvirt uses it and it knows nothing of that package.
package lvxml
