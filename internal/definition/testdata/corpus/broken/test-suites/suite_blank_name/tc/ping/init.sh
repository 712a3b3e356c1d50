#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# ping, step 1: good1 writes its address to a shared place
if [ "@slavename@" == "good1.xrd.test" ]; then
  run "hostname -i > /tmp/ping_target"
fi
