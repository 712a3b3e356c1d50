#!/bin/bash

source /etc/XrdTest/utils/functions.sh

if [ "@slavename@" != "cli.xrd.test" ]; then
  run service cmsd stop
  run service xrootd stop
  run rm -f /etc/xrootd/cms-role.cfg
fi
log "ts_cms finalized on @slavename@"
