#!/bin/bash

source /etc/XrdTest/utils/functions.sh

# locate, step 2: the client asks the manager where the file is
if [ "@slavename@" == "cli.xrd.test" ]; then
  OUT=$(xrdfs mgr.xrd.test locate /data/cms/locate_me 2>&1)
  log "locate answered: $OUT"
  run "echo '$OUT' | grep -q 10.77.2.11"
fi
