from XrdTest.TestUtils import TestSuite

def getTestSuite():
  ts = TestSuite(name='ts_cms')
  ts.descName = 'cmsd locate and failover on cluster_beta'
  ts.clusters = ['cluster_beta']
  ts.machines = ['mgr.xrd.test', 'srv1.xrd.test', 'cli.xrd.test']
  ts.tests = ['locate', 'cms_failover']
  # weekdays at 03:00:00
  ts.schedule = dict(hour='3', day_of_week='mon-fri')
  # xrdtest extension: each stage may take up to 10 minutes
  ts.stage_timeout = 600
  ts.initialize = "file://suite_init.sh"
  ts.finalize = "file://suite_finalize.sh"
  ts.logs = ['/var/log/xrootd/@slavename@/cmsd.log']
  return ts
