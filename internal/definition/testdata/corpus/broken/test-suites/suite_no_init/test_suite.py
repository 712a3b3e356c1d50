from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_no_init')
    ts.clusters = ['cluster_good']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.finalize = 'file://suite_finalize.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
