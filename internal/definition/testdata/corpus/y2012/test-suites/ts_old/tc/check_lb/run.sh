#!/bin/bash
source /etc/XrdTest/utils/functions.sh

# check_lb, step 2: lb.xrd.test must resolve to ds1 and/or ds2
if [[ @slavename@ =~ ^a\. ]]; then
  run "getent ahosts lb.xrd.test | grep -E -q '192.168.150.(4|5)'"
  assert_fail getent hosts nosuchhost.xrd.test
  log "lb.xrd.test resolves"
fi
