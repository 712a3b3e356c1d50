// Package libvirt is the hypervisor backend that starts a cluster's hosts
// as libvirt/QEMU virtual machines on a private, isolated libvirt network.
// It talks to libvirtd over its unix socket with go-libvirt (pure Go, no
// cgo); the XML it defines (built with libvirtxml), the names of what it
// creates and the network collision check are package lvxml's.
//
// # What StartCluster creates
//
// For cluster C with network N and host H (a full name such as
// slave1.xrd.test):
//
//	network  C_N            isolated (no <forward>), the definition's bridge,
//	                        gateway and netmask, DHCP range, a fixed lease per
//	                        host (MAC, IP, first label of the name), DNS: every
//	                        host name and alias (an alias on N hosts = N A
//	                        records, round robin) and master.xrd.test
//	volume   C_H.qcow2      qcow2 overlay of the host's boot image (the image
//	                        itself is never written)
//	volume   C_H_D.img      raw data disk D, formatted ext4 on the hypervisor
//	                        host (mkfs.ext4 -F -q on the volume file)
//	domain   C_H            1 vCPU, RAMKiB, boot overlay as sda on virtio-scsi,
//	                        data disks as virtio-blk at Disk.Device (vda...),
//	                        virtio NIC with the host's MAC, serial console to
//	                        <StateDir>/console/C_H.log
//
// master.xrd.test is the spec's Master.IP, else the network's gateway:
// this machine's address on the bridge, where the guests reach the
// master's daemon and web ports (Master.Port, Master.WebPort) as they are,
// no relay: the master listens on an address that includes it.
//
// Domains are defined and started in parallel. The domain type is kvm where
// libvirtd offers it (Config.ForceTCG forces qemu, i.e. TCG).
//
// # Boot images
//
// Host.BootImage names a volume of the storage pool (Config.Pool). If the
// pool also holds <image without extension>.vmlinuz and .initrd.img (or
// .initrd.gz, as earlier versions installed it), as `xrdtest hypervisor
// install-image` puts them (e.g. slave.qcow2 beside slave.vmlinuz and
// slave.initrd.img), the domain boots that kernel directly with
//
//	<image.BaseCmdline> xrdtest.name=<FQDN>
//	xrdtest.master=master.xrd.test:<port> xrdtest.token=<token>
//	xrdtest.ca=<CA fingerprint> xrdtest.gw=<gateway> [Config.ExtraKernelArgs]
//
// Otherwise it boots from the overlay disk and finds the same xrdtest.*
// key=value pairs as SMBIOS OEM strings (type 11: dmidecode -t 11, or
// /sys/firmware/dmi/entries/11-0/raw).
//
// # Caching
//
// Host.CacheBootImage true keeps the overlay across stops (and reuses it,
// unless the boot image changed); false recreates it at every start.
// Disk.Cache true keeps the data disk and its contents (formatted only when
// created); false recreates and formats it at every start. Purge deletes
// the kept volumes.
//
// # Ownership and the state file
//
// Every domain and network carries a metadata element in the namespace
// lvxml.MetadataNS naming its cluster, host, network and the state file
// (<StateDir>/state.json) of the backend that made it. The state file
// records every object before it is created (JSON, written atomically), so
// a crash leaves a record. Only objects with our metadata, or recorded in
// our state file, are ever removed: foreign domains, networks and volumes
// are never touched, and a start that would need one of their names fails
// before creating anything. A failed start removes what it created.
// Leftovers lists what belongs to no started cluster; Cleanup removes all
// clusters but those it is told to keep.
//
// # Faults
//
// fault.go (hypervisor.FaultInjector): partition, isolate, loss and rate
// are nftables tables of family bridge (nft, package nftables), one per
// fault, filtering what the cluster's bridge forwards between the guests'
// addresses, in the network namespace the backend runs in, which must be
// libvirtd's (where the bridge is; the fault is refused otherwise). What a
// guest sends to the gateway (the master) is not forwarded, so the slaves'
// channel to the master is never filtered. delay is netem on the host's
// tap (refused by a kernel without sch_netem); pause suspends the domain.
// kill and fill are refused: the backend has no way into a guest. Each
// fault's steps are in the cluster's record of the state file before they
// are made; a heal, StopCluster, or New on the state dir after a crash
// takes them back.
package libvirt
