from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

#-------------------------------------------------------------------------------
# cluster_example: a small XRootD-shaped cluster, written exactly as for the
# original XrdTest framework: a redirector, two data servers published under
# one round-robin name, and a client.
#-------------------------------------------------------------------------------
def getCluster():
    cluster = Cluster('cluster_example')
    cluster.info = 'redirector + 2 data servers (round robin data.xrd.test) + client'

    # Defaults for every host. bootImage is a volume of the hypervisor's
    # storage pool; `xrdtest image build` makes a small one.
    cluster.defaultHost.bootImage = 'xrdtest-slave.qcow2'
    cluster.defaultHost.cacheBootImage = True
    cluster.defaultHost.arch = 'x86_64'
    cluster.defaultHost.ramSize = '262144'   # KiB: 256 MiB

    net = cluster.network
    net.ip = '192.168.213.1'
    net.netmask = '255.255.255.0'
    net.DHCPRange = ('192.168.213.100', '192.168.213.200')

    data = ['data.xrd.test']
    redir = Host('redir.xrd.test', '192.168.213.10', aliases=['xroot.xrd.test'])
    ds1 = Host('ds1.xrd.test', '192.168.213.11', aliases=data)
    ds2 = Host('ds2.xrd.test', '192.168.213.12', aliases=data)
    client = Host('client.xrd.test', '192.168.213.20')

    ds1.disks = [Disk('data', '1G', device='vdb', mountPoint='/data')]
    ds2.disks = [Disk('data', '1G', device='vdb', mountPoint='/data', cache=False)]

    cluster.addHosts([redir, ds1, ds2, client])
    return cluster
