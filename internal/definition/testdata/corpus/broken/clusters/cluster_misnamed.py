from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_misname')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.164.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.164.100', '192.168.164.150')

    cluster.addHosts([Host('mis1.xrd.test', '192.168.164.10'),
                      Host('mis2.xrd.test', '192.168.164.11')])
    return cluster
