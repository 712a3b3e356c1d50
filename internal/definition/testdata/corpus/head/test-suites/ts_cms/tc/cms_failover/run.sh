#!/bin/bash

source /etc/XrdTest/utils/functions.sh

# cms_failover, step 2: with srv1's cmsd gone the manager must not find it
if [ "@slavename@" == "cli.xrd.test" ]; then
  assert_fail xrdcp -f root://mgr.xrd.test//data/cms/failover.txt /tmp/failover.txt
  log "read refused as expected"
fi
