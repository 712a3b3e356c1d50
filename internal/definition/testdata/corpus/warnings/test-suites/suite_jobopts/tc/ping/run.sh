#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# ping, step 2: the others reach w1
if [ "@slavename@" != "w1.xrd.test" ]; then
  run ping -c 2 -W 2 w1.xrd.test
fi
