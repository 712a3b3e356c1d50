#!/bin/bash

source /etc/XrdTest/utils/functions.sh

log "Finalizing ts_copy on @slavename@"

if [ "@slavename@" != "client.xrd.test" ]; then
  run service cmsd stop
  run service xrootd stop
fi
