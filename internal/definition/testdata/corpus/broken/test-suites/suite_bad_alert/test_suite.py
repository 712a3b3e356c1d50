from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_bad_alert')
    ts.clusters = ['cluster_good']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://suite_init.sh'
    ts.alert_emails = ['qa@example.org']
    ts.alert_success = 'suite'
    ts.alert_failure = 'CASE'
    return ts
