from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_jobopts')
    ts.clusters = ['cluster_wide']
    ts.tests = ['ping']
    # APScheduler job options mixed into the cron fields
    ts.schedule = dict(minute='*/30', misfire_grace_time=60)
    ts.initialize = 'file://suite_init.sh'
    return ts
