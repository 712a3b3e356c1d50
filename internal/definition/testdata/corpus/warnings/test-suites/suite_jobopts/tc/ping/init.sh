#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# ping, step 1: w1 records that it is ready
if [ "@slavename@" == "w1.xrd.test" ]; then
  run "date > /tmp/ready"
fi
