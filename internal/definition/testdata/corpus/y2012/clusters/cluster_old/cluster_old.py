from XrdTest.ClusterUtils import Cluster, Network, Host, Disk 

def getCluster():
    cluster = Cluster()
    #---------------------------------------------------------------------------
    # Global names
    #---------------------------------------------------------------------------
    cluster.name = 'cluster_old'
    network_name = cluster.name + '_net'

    #---------------------------------------------------------------------------
    # Cluster defaults
    #---------------------------------------------------------------------------
    cluster.defaultHost.bootImage = 'slc5_oldslave_ref.img'
    cluster.defaultHost.cacheBootImage = True
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '1048576'
    cluster.defaultHost.net = network_name

    #---------------------------------------------------------------------------
    # Network definition
    #---------------------------------------------------------------------------
    net = Network()
    net.name = cluster.name + '_net'
    net.bridgeName = 'virbr_old'
    net.ip = '192.168.150.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.150.2', '192.168.150.254')

    #---------------------------------------------------------------------------
    # Host definitions (name, ip, mac, net, ramSize)
    #---------------------------------------------------------------------------
    a = Host('a.xrd.test', '192.168.150.3', '52:54:00:aa:bb:01')
    ds1 = Host('ds1.xrd.test', '192.168.150.4', '52:54:00:aa:bb:02', \
               network_name)
    ds2 = Host('ds2.xrd.test', '192.168.150.5', '52:54:00:aa:bb:03', \
               network_name, '2097152')
    client = Host('oldclient.xrd.test', '192.168.150.6', '52:54:00:aa:bb:04', \
                  net=network_name)

    #---------------------------------------------------------------------------
    # Additional disks
    #---------------------------------------------------------------------------
    ds1.disks = [Disk('disk1', '5G', device='vda', mountPoint='/data'), \
                 Disk('disk2', '5G', 'vdb', mountPoint='/data2')]
    ds2.disks = [Disk('disk1', '5G', device='vda', mountPoint='/data')]

    #---------------------------------------------------------------------------
    # Load balancing: lb.xrd.test resolves to ds1 and ds2 (round robin)
    #---------------------------------------------------------------------------
    net.lbAlias = 'lb.xrd.test'
    net.lbHosts = [ds1, ds2]

    hosts = [a, ds1, ds2, client]

    net.addHosts(hosts)
    cluster.network = net
    cluster.addHosts(hosts)
    return cluster
