#!/bin/bash
source /etc/XrdTest/utils/functions.sh

# check_lb, step 1: ds1 publishes a marker that the alias must lead to
if [[ @slavename@ =~ ds1 ]]; then
  run "echo ds1 > /data/old/lb_marker"
fi
