from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

# Typo: the loader looks for getCluster, this file defines get_cluster.
def get_cluster():
    cluster = Cluster('cluster_nofunc')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.162.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.162.100', '192.168.162.150')

    cluster.addHosts([Host('nof1.xrd.test', '192.168.162.10'),
                      Host('nof2.xrd.test', '192.168.162.11')])
    return cluster
