from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    # the folder is suite_folder, the suite calls itself suite_renamed
    ts = TestSuite('suite_renamed')
    ts.clusters = ['cluster_narrow']
    ts.tests = ['ping']
    ts.schedule = dict(hour='2', minute='30')
    ts.initialize = 'file://suite_init.sh'
    return ts
