#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# ping, step 1: n1 records that it is ready
if [ "@slavename@" == "n1.xrd.test" ]; then
  run "date > /tmp/ready"
fi
