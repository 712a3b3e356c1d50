from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite('suite_syntax')
    ts.descName = u'Suite with a Python 2 unicode literal'
    ts.clusters = ['cluster_good']
    ts.tests = ['ping']
    ts.schedule = dict(minute='0', hour='4')
    ts.initialize = 'file://suite_init.sh'
    return ts
