from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_disksize')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.170.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.170.100', '192.168.170.150')

    dsk1 = Host('dsk1.xrd.test', '192.168.170.10')
    dsk2 = Host('dsk2.xrd.test', '192.168.170.11')
    dsk1.disks = [Disk('disk1', '20G', device='vdb', mountPoint='/data')]
    dsk2.disks = [Disk('disk1', '20GB', device='vdb', mountPoint='/data')]

    cluster.addHosts([dsk1, dsk2])
    return cluster
