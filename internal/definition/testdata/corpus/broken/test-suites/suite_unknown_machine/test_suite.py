from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_unknown_machine')
    ts.clusters = ['cluster_good']
    ts.machines = ['good1', 'good3.xrd.test']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://suite_init.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
