from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_outside')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.168.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.168.100', '192.168.168.150')

    out1 = Host('out1.xrd.test', '192.168.168.10')
    out2 = Host('out2.xrd.test', '192.168.186.11')   # digits swapped: not in 192.168.168.0/24

    cluster.addHosts([out1, out2])
    return cluster
