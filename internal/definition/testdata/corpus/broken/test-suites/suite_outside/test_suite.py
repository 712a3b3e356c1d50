from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_outside')
    ts.clusters = ['cluster_good']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://../../../outside.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
