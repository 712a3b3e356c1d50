from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_badnet')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.173.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.173.100', '192.168.173.150')

    bn1 = Host('bn1.xrd.test', '192.168.173.10', 'cluster_badnet_net')
    bn2 = Host('bn2.xrd.test', '192.168.173.11', 'badnet_net')   # not the cluster's network

    cluster.addHosts([bn1, bn2])
    return cluster
