from XrdTest.TestUtils import TestSuite

#-------------------------------------------------------------------------------
# xrootd: a real XRootD meta-manager cluster (xrootd + cmsd from Debian's
# xrootd-server, xrdcp + xrdfs from xrootd-client on the client). The suite
# init configures and starts every server from one file, config/xrootd.cfg,
# downloaded from the master; the cases check from the client, through the
# meta manager, what the data servers hold.
#-------------------------------------------------------------------------------
def getTestSuite():
    ts = TestSuite('xrootd')
    ts.descName = 'XRootD meta manager, managers and data servers: copy, spread, xrdfs, a server down and back'
    ts.clusters = ['cluster_meta_manager']
    ts.machines = ['metaman', 'man1', 'man2', 'srv1', 'srv2', 'srv3', 'srv4', 'client1']
    ts.tests = ['copy', 'spread', 'xrdfs', 'partition', 'server_down', 'rejoin']
    ts.schedule = dict(hour='4', minute='0')   # daily at 04:00 (master time)
    ts.initialize = 'file://suite_init.sh'
    ts.finalize = 'file://suite_finalize.sh'
    ts.logs = ['/var/log/xrootd/xrootd.log', '/var/log/xrootd/cmsd.log']
    ts.alert_emails = []
    ts.alert_success = 'NONE'
    ts.alert_failure = 'SUITE'
    ts.stage_timeout = 300
    return ts
