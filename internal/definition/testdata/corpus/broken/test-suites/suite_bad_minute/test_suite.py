from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_bad_minute')
    ts.clusters = ['cluster_good']
    ts.tests = ['ping']
    ts.schedule = dict(minute='61', hour='*')
    ts.initialize = 'file://suite_init.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
