from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_noimage')

    # no cluster.defaultHost.bootImage and no host sets its own
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.174.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.174.100', '192.168.174.150')

    img1 = Host('img1.xrd.test', '192.168.174.10')
    img2 = Host('img2.xrd.test', '192.168.174.11')

    cluster.addHosts([img1, img2])
    return cluster
