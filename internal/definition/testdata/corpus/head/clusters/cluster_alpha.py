from XrdTest.ClusterUtils import Cluster, Network, Host, Disk

#-------------------------------------------------------------------------------
# cluster_alpha: one redirector, two data servers published together under a
# round-robin name, and one client with more memory.
#-------------------------------------------------------------------------------
def getCluster():
  cluster = Cluster("cluster_alpha")
  cluster.info = 'redirector + 2 data servers (round robin data.xrd.test) + client'

  #-----------------------------------------------------------------------------
  # Cluster defaults (bootImage is a volume in the hypervisor's storage pool)
  #-----------------------------------------------------------------------------
  cluster.defaultHost.bootImage      = 'sl6_xrdslave_base.img'
  cluster.defaultHost.cacheBootImage = True
  cluster.defaultHost.arch           = 'x86_64'
  cluster.defaultHost.ramSize        = '1048576'

  #-----------------------------------------------------------------------------
  # Network: edit the implicit network of the cluster in place
  #-----------------------------------------------------------------------------
  net = cluster.network
  net.ip        = '10.77.1.1'
  net.netmask   = '255.255.255.0'
  net.DHCPRange = ('10.77.1.100', '10.77.1.200')

  #-----------------------------------------------------------------------------
  # Hosts
  #-----------------------------------------------------------------------------
  roundRobin = ['data.xrd.test']

  redir  = Host('redir.xrd.test', '10.77.1.2',
                mac='52:54:00:a1:01:02', aliases=['xroot.xrd.test'],
                bootImage='sl6_xrdslave_redir.img', cacheBootImage=False)
  dsa    = Host('dsa.xrd.test',   '10.77.1.3',
                aliases=roundRobin, mac='52:54:00:a1:01:03')
  dsb    = Host('dsb.xrd.test',   '10.77.1.4', aliases=roundRobin)
  client = Host('client.xrd.test', '10.77.1.5', 'cluster_alpha_net',
                ramSize='4194304')

  #-----------------------------------------------------------------------------
  # Extra disks (the boot disk is attached separately)
  #-----------------------------------------------------------------------------
  dsa.disks    = [Disk('disk1', '20G', device='vdb', mountPoint='/data')]
  dsb.disks    = [Disk('disk1', '20G', device='vdb', mountPoint='/data'),
                  Disk('scratch', '512M', 'vdc', '/scratch', False)]
  client.disks = [Disk('xrdlog', '1048576', device='vdb', mountPoint='/var/log/xrd')]

  #-----------------------------------------------------------------------------
  # Add hosts and finish up
  #-----------------------------------------------------------------------------
  cluster.addHost(redir)
  cluster.addHosts([dsa, dsb, client])
  return cluster
