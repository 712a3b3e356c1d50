from XrdTest.ClusterUtils import Cluster, Network, Host, Disk
import os

def getCluster():
    cluster = Cluster('cluster_import')

    cluster.defaultHost.bootImage = 'sl6_xrdslave_base.img'
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'

    net = cluster.network
    net.ip = '192.168.165.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.165.100', '192.168.165.150')

    cluster.addHosts([Host('imp1.xrd.test', '192.168.165.10'),
                      Host('imp2.xrd.test', '192.168.165.11')])
    return cluster
