from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_loop')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.172.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.172.100', '192.168.172.150')

    # "wait" for something that never comes: practically endless
    spin = 0
    for i in range(1000000000):
        for j in range(1000000000):
            spin = spin + 1

    cluster.addHosts([Host('loop1.xrd.test', '192.168.172.10'),
                      Host('loop2.xrd.test', '192.168.172.11')])
    return cluster
