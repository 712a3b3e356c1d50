from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_bad_schedule_key')
    ts.clusters = ['cluster_good']
    ts.tests = ['ping']
    ts.schedule = dict(hours='3')
    ts.initialize = 'file://suite_init.sh'
    ts.alert_emails = ['qa@example.org']
    return ts
