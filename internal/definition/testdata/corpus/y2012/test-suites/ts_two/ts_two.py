from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite()
    ts.name = "ts_two"
    ts.clusters = ['cluster_two']

    hello = TestCase()
    hello.name = "hello"
    hello.initialize = "file://tc/hello/init.sh"
    hello.run = "file://tc/hello/run.sh"
    ts.tests = [hello.name]

    ts.schedule = dict(second='0', minute='*/20')
    ts.initialize = "file://suite_init.sh"
    ts.finalize = "file://suite_finalize.sh"
    return ts
