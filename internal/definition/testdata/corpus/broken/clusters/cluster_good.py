from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

#-------------------------------------------------------------------------------
# The only valid cluster of this repository.
#-------------------------------------------------------------------------------
def getCluster():
    cluster = Cluster('cluster_good')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.160.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.160.100', '192.168.160.150')

    good1 = Host('good1.xrd.test', '192.168.160.10', mac='52:54:00:a0:00:0a')
    good2 = Host('good2.xrd.test', '192.168.160.11', mac='52:54:00:a0:00:0b')
    good2.disks = [Disk('disk1', '10G', device='vdb', mountPoint='/data')]

    cluster.addHosts([good1, good2])
    return cluster
