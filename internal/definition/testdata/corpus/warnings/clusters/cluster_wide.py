from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

#-------------------------------------------------------------------------------
# cluster_wide: a /16 network. Loads, but with warnings.
#-------------------------------------------------------------------------------
def getCluster():
    cluster = Cluster('cluster_wide')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '10.88.0.1'
    net.netmask = '255.255.0.0'
    net.DHCPRange = ('10.88.200.1', '10.88.250.254')

    w1 = Host('w1.xrd.test', '10.88.1.10', mac='52:54:00:88:01:0a')
    w2 = Host('w2.xrd.test', '10.88.1.11', mac='52:54:00:88:01:0b')
    # forgot that .200-.250 is the dynamic pool
    w3 = Host('w3.xrd.test', '10.88.210.7', mac='52:54:00:88:d2:07')
    w3.comment = 'temporary host, remove after the migration'

    cluster.addHosts([w1, w2, w3])
    return cluster
