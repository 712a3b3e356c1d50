from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

#-------------------------------------------------------------------------------
# cluster_meta_manager: the original framework's meta-manager cluster, for the
# xrootd suite. A meta manager over two managers, two data servers under each
# manager (each with a data disk at /data), and a client; every host is also
# published under one round-robin name, multiip.xrd.test.
#-------------------------------------------------------------------------------
def getCluster():
    cluster = Cluster('cluster_meta_manager')
    cluster.info = 'XRootD meta manager, 2 managers, 4 data servers, 1 client'

    cluster.defaultHost.bootImage = 'xrdtest-slave.qcow2'
    cluster.defaultHost.cacheBootImage = True
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '524288'   # KiB: 512 MiB

    net = cluster.network
    net.ip = '192.168.128.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.128.20', '192.168.128.254')

    everyone = ['multiip.xrd.test']
    metaman = Host('metaman.xrd.test', '192.168.128.3', aliases=everyone)
    man1 = Host('man1.xrd.test', '192.168.128.4', aliases=everyone)
    man2 = Host('man2.xrd.test', '192.168.128.5', aliases=everyone)
    srv1 = Host('srv1.xrd.test', '192.168.128.6', aliases=everyone)
    srv2 = Host('srv2.xrd.test', '192.168.128.7', aliases=everyone)
    srv3 = Host('srv3.xrd.test', '192.168.128.8', aliases=everyone)
    srv4 = Host('srv4.xrd.test', '192.168.128.9', aliases=everyone)
    client1 = Host('client1.xrd.test', '192.168.128.10', aliases=everyone)

    # A data server's files live on a disk of its own (sparse on netns,
    # qcow2 on VMs, where the only virtio disk is vda, as in the original);
    # cmsd needs its free-space watermarks lowered for disks this small
    # (config/xrootd.cfg).
    for srv in [srv1, srv2, srv3, srv4]:
        srv.disks = [Disk('data', '1G', device='vda', mountPoint='/data')]

    cluster.addHosts([metaman, man1, man2, srv1, srv2, srv3, srv4, client1])
    return cluster
