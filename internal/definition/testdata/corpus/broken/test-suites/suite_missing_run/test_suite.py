from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_missing_run')
    ts.clusters = ['cluster_good']
    ts.tests = ['ping', 'setup_only']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://suite_init.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
