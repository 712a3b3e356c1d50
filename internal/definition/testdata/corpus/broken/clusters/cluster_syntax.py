from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_syntax')
    print "building cluster_syntax"

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.161.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.161.100', '192.168.161.150')

    cluster.addHosts([Host('syn1.xrd.test', '192.168.161.10'),
                      Host('syn2.xrd.test', '192.168.161.11')])
    return cluster
