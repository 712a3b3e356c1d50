from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_broken_cluster')
    ts.clusters = ['cluster_dupip']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://suite_init.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
