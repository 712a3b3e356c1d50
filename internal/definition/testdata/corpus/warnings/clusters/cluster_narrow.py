from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

#-------------------------------------------------------------------------------
# cluster_narrow: 10.88.5.0/24 lies inside cluster_wide's 10.88.0.0/16.
# Different network name, gateway and bridge, so it only warns.
#-------------------------------------------------------------------------------
def getCluster():
    cluster = Cluster('cluster_narrow')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.bridgeName = 'virbr_narrow'
    net.ip = '10.88.5.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('10.88.5.100', '10.88.5.200')

    n1 = Host('n1.xrd.test', '10.88.5.10', mac='52:54:00:88:05:0a')
    n2 = Host('n2.xrd.test', '10.88.5.11', mac='52:54:00:88:05:0b')

    cluster.addHosts([n1, n2])
    return cluster
