#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# ping, step 2: good2 pings good1
if [ "@slavename@" == "good2.xrd.test" ]; then
  run ping -c 3 -W 2 good1.xrd.test
fi
