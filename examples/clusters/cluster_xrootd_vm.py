from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

#-------------------------------------------------------------------------------
# cluster_xrootd_vm: the smallest XRootD cluster, for the xrootd_vm suite on
# VMs (the slave image built with the XRootD packages: xrdtest quickstart
# --backend libvirt --suite xrootd_vm --package ...): a manager, one data
# server with a data disk at /data, a client. Host names give the roles, as
# in cluster_meta_manager.
#-------------------------------------------------------------------------------
def getCluster():
    cluster = Cluster('cluster_xrootd_vm')
    cluster.info = 'XRootD manager, 1 data server, 1 client'

    cluster.defaultHost.bootImage = 'xrdtest-slave.qcow2'
    cluster.defaultHost.cacheBootImage = True
    cluster.defaultHost.arch = 'x86_64'
    # KiB: 768 MiB. The image with the XRootD packages lives in RAM and
    # needs ~660 MiB to boot (min_ram_mib in its image.json; the hypervisor
    # refuses less); the rest is for the servers.
    cluster.defaultHost.ramSize = '786432'

    net = cluster.network
    net.ip = '192.168.129.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.129.20', '192.168.129.254')

    man1 = Host('man1.xrd.test', '192.168.129.3')
    srv1 = Host('srv1.xrd.test', '192.168.129.4')
    client1 = Host('client1.xrd.test', '192.168.129.5')
    # The guest names virtio disks in order: the only data disk is vda
    # (the boot disk is on SCSI), which @diskmounts@ mounts.
    srv1.disks = [Disk('data', '512M', device='vda', mountPoint='/data')]

    cluster.addHosts([man1, srv1, client1])
    return cluster
