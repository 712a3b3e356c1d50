from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_dhcp_reversed')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.169.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.169.150', '192.168.169.100')

    cluster.addHosts([Host('rev1.xrd.test', '192.168.169.10'),
                      Host('rev2.xrd.test', '192.168.169.11')])
    return cluster
