#!/bin/bash

source /etc/XrdTest/utils/functions.sh

# cms_failover, step 1: srv1 writes a file, then leaves the cluster
if [ "@slavename@" == "srv1.xrd.test" ]; then
  run "echo failover > /data/cms/failover.txt"
  run service cmsd stop
fi
