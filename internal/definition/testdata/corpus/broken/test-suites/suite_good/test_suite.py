from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_good')
    ts.clusters = ['cluster_good']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://suite_init.sh'
    ts.finalize = 'file://suite_finalize.sh'
    ts.alert_emails = ['qa@example.org']
    ts.alert_success = 'NONE'
    ts.alert_failure = 'CASE'
    return ts
