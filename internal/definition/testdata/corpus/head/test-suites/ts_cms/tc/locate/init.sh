#!/bin/bash

source /etc/XrdTest/utils/functions.sh

# locate, step 1: srv1 writes the file the client will look up
if [ "@slavename@" == "srv1.xrd.test" ]; then
  run "date +%s > /data/cms/locate_me"
  log "srv1 wrote /data/cms/locate_me"
fi
