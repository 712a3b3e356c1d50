from XrdTest.ClusterUtils import Cluster, Network, Host

def getCluster():
    cluster = Cluster()
    cluster.name = 'cluster_two'

    net = Network('cluster_two_net', 'cluster_two')
    net.ip = '192.168.151.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.151.100', '192.168.151.199')
    cluster.network = net

    cluster.defaultHost.bootImage = 'slc5_oldslave_ref.img'
    cluster.defaultHost.arch = 'i686'
    cluster.defaultHost.ramSize = 524288

    h1 = Host('two1.xrd.test', '192.168.151.2', '52:54:00:AB:CD:10')
    h2 = Host('two2.xrd.test', '192.168.151.3', '52:54:00:ab:cd:11', 'cluster_two_net')

    cluster.addHosts([h1, h2])
    return cluster
