from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_unknown_cluster')
    ts.clusters = ['cluster_good', 'cluster_nowhere']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://suite_init.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
