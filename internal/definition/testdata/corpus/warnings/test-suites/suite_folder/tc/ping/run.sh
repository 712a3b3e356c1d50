#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# ping, step 2: the others reach n1
if [ "@slavename@" != "n1.xrd.test" ]; then
  run ping -c 2 -W 2 n1.xrd.test
fi
