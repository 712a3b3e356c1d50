# Leftover from before the rename to test_suite.py. test_suite.py wins, so this
# file is never evaluated (it is Python 2 and not even valid Starlark).
from XrdTest.TestUtils import TestSuite

def getTestSuite():
    print "old definition"
    ts = TestSuite()
    ts.name = "ts_cms_old"
    return ts
