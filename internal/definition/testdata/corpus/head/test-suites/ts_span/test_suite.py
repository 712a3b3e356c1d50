from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
  ts = TestSuite("ts_span")
  ts.clusters = ['cluster_alpha', 'cluster_beta']
  ts.tests = ['uptime']
  ts.schedule = dict(minute=30, hour='*/6')
  ts.initialize = 'file://scripts/span_init.sh'
  ts.alert_emails = ['xrd-alpha@lists.example.org']
  ts.alert_success = 'SUITE'
  ts.alert_failure = 'CASE'
  return ts
