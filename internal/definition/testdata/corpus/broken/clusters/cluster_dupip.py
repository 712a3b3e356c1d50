from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_dupip')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.166.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.166.100', '192.168.166.150')

    dup1 = Host('dup1.xrd.test', '192.168.166.10')
    dup2 = Host('dup2.xrd.test', '192.168.166.11')
    dup3 = Host('dup3.xrd.test', '192.168.166.11')   # copy-paste: same IP as dup2

    cluster.addHosts([dup1, dup2, dup3])
    return cluster
