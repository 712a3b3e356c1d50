#!/bin/bash

source /etc/XrdTest/utils/functions.sh

if [ "@slavename@" == "srv1.xrd.test" ]; then
  run rm -f /data/cms/failover.txt
  run service cmsd start
fi
