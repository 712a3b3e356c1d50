from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_netmask')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.167.1'
    net.netmask = '255.255.0.255'
    net.DHCPRange = ('192.168.167.100', '192.168.167.150')

    cluster.addHosts([Host('msk1.xrd.test', '192.168.167.10'),
                      Host('msk2.xrd.test', '192.168.167.11')])
    return cluster
