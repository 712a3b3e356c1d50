from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_dupmac')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.171.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.171.100', '192.168.171.150')

    mac1 = Host('mac1.xrd.test', '192.168.171.10', mac='52:54:00:ab:71:0a')
    mac2 = Host('mac2.xrd.test', '192.168.171.11', mac='52:54:00:ab:71:0a')

    cluster.addHosts([mac1, mac2])
    return cluster
