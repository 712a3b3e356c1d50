from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

def getCluster():
    cluster = Cluster('cluster_none')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.163.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.163.100', '192.168.163.150')

    cluster.addHosts([Host('none1.xrd.test', '192.168.163.10'),
                      Host('none2.xrd.test', '192.168.163.11')])
    # forgot "return cluster": getCluster returns None
