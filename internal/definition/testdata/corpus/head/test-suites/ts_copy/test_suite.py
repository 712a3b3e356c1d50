from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
  ts = TestSuite("ts_copy")
  ts.descName = 'Copy files through the alpha redirector'
  ts.clusters = ['cluster_alpha']
  # no ts.machines: every host of cluster_alpha takes part
  ts.tests = ['get_file', 'put_file', 'stat_rr']
  ts.schedule = dict(second='00', minute='00', hour='00', day='*', month='*')
  ts.initialize = "file://suite_init.sh"
  ts.finalize = "file://suite_finalize.sh"
  ts.logs = ['/var/log/xrootd/@slavename@/xrootd.log',
             '/var/log/xrootd/@slavename@/cmsd.log',
             '/var/log/XrdTest/XrdTestSlave.log']

  ts.alert_emails = ['xrd-alpha@lists.example.org', 'oncall@example.org']
  ts.alert_success = 'NONE'
  ts.alert_failure = 'SUITE'
  return ts
