from XrdTest.TestUtils import TestSuite, TestCase

def getTestSuite():
    ts = TestSuite()

    ts.name = "ts_old"
    ts.clusters = ['cluster_old']
    ts.machines = ['a', 'ds1']
    ts.tests = ['simple_copy', 'check_lb']

    ts.schedule = dict(second='30', minute='15', hour='*', day='*', month='*')

    ts.initialize = "#!/bin/bash\nsource /etc/XrdTest/utils/functions.sh\nlog \"Initializing ts_old on @slavename@\"\n@diskmounts@\nrun mkdir -p /data/old\n"

    return ts

def getTestCases():
    tcs = []

    tc1 = TestCase()
    tc1.name = "simple_copy"
    tc1.initialize = "file://tc/" + tc1.name + "/init.sh"
    tc1.run = "file://tc/" + tc1.name + "/run.sh"
    tc1.finalize = "file://tc/" + tc1.name + "/finalize.sh"
    tcs.append(tc1)

    tc2 = TestCase()
    tc2.name = "check_lb"
    tc2.machines = ['a']
    tc2.initialize = """#!/bin/bash
    echo "check_lb init"
    """
    tc2.run = "file://tc/" + tc2.name + "/run.sh"
    tcs.append(tc2)

    return tcs
