from XrdTest.ClusterUtils import Cluster, Network, Host, Disk
from XrdTest.ClusterUtils import (Cluster,
                                  Host)

# Servers created through the helper below are collected here and added to
# the cluster in one go.
SERVERS = []

def server(name, ip, **kwargs):
  h = Host(name, ip, **kwargs)
  h.disks = [Disk('disk1', '20G', device='vdb', mountPoint='/data')]
  SERVERS.append(h)
  return h

#-------------------------------------------------------------------------------
# cluster_beta: cmsd manager with its own (uncached) image, two servers behind
# pool.xrd.test, and a small submit client.
#-------------------------------------------------------------------------------
def getCluster():
  cluster = Cluster(name="cluster_beta")
  cluster.info = 'cmsd manager + 2 servers (pool.xrd.test) + submit client'

  cluster.defaultHost.bootImage      = 'sl6_xrdslave_base.img'
  cluster.defaultHost.cacheBootImage = False
  cluster.defaultHost.arch           = 'x86_64'
  cluster.defaultHost.ramSize        = '2097152'

  net = cluster.network
  net.bridgeName = 'virbr_beta'
  net.ip         = '10.77.2.1'
  net.netmask    = '255.255.255.0'
  net.DHCPRange  = ('10.77.2.50', '10.77.2.99')

  pool = ['pool.xrd.test']

  mgr  = Host('mgr.xrd.test', '10.77.2.10', mac='52:54:00:b2:02:0a',
              bootImage='sl6_xrdslave_cmsd.img')
  srv1 = server('srv1.xrd.test', '10.77.2.11', aliases=pool)
  srv2 = server('srv2.xrd.test', '10.77.2.12', aliases=pool, arch='i686',
                uuid='6f1c2a8e-3b7d-4e0a-9c51-2d8e7f4a1b90')

  cluster.addHost(mgr)
  cluster.addHosts(SERVERS)

  # The client is small: defaults are copied when a host is added, so this
  # only affects hosts added from here on.
  cluster.defaultHost.ramSize = 524288

  cli = Host('cli.xrd.test', '10.77.2.20', cacheBootImage=True)
  cli.aliases.append('submit.xrd.test')
  cli.disks = [Disk('spool', 4294967296, 'vdb', '/spool')]
  cluster.addHost(cli)

  return cluster
