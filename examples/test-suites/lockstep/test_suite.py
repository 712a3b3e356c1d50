from XrdTest.TestUtils import TestSuite

#-------------------------------------------------------------------------------
# lockstep: shows that stages run in lock-step on all machines. A data server
# publishes a file in a case's init stage; the client reads it in the run
# stage, which starts only once every machine has finished init.
#-------------------------------------------------------------------------------
def getTestSuite():
    ts = TestSuite('lockstep')
    ts.descName = 'Lock-step hand-off between a data server and the client'
    ts.clusters = ['cluster_example']
    # Unset machines would mean all hosts; short names resolve to full ones.
    ts.machines = ['redir', 'ds1', 'ds2', 'client']
    ts.tests = ['handoff', 'all_ran']
    ts.schedule = dict(hour='3', minute='30')   # daily at 03:30 (master time)
    ts.initialize = 'file://suite_init.sh'
    ts.finalize = 'file://suite_finalize.sh'
    ts.logs = ['/tmp/xrdtest-example/@slavename@.log']
    ts.alert_emails = []
    ts.alert_success = 'NONE'
    ts.alert_failure = 'SUITE'
    ts.stage_timeout = 120
    return ts
