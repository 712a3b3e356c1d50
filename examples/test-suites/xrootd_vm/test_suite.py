from XrdTest.TestUtils import TestSuite

#-------------------------------------------------------------------------------
# xrootd_vm: the xrootd suite on cluster_xrootd_vm, 3 VMs (a manager, a data
# server with a disk, a client). Nothing is copied: the suite init and
# finalize are the xrootd suite's files, its cases (tc/copy, tc/xrdfs) are
# links to the xrootd suite's folders, and those scripts download the same
# lib.sh and config/xrootd.cfg from the master; the host names give the roles
# and the layout. With one data server, the cases about several (spread, a
# server down and back) are left to the 8-host suite.
#-------------------------------------------------------------------------------
def getTestSuite():
    ts = TestSuite('xrootd_vm')
    ts.descName = 'XRootD manager, data server and client on VMs: copy, xrdfs'
    ts.clusters = ['cluster_xrootd_vm']
    ts.machines = ['man1', 'srv1', 'client1']
    ts.tests = ['copy', 'xrdfs']
    ts.schedule = dict(hour='4', minute='30')   # daily at 04:30 (master time)
    ts.initialize = 'file://../xrootd/suite_init.sh'
    ts.finalize = 'file://../xrootd/suite_finalize.sh'
    ts.logs = ['/var/log/xrootd/xrootd.log', '/var/log/xrootd/cmsd.log']
    ts.alert_emails = []
    ts.alert_success = 'NONE'
    ts.alert_failure = 'SUITE'
    ts.stage_timeout = 300
    return ts
