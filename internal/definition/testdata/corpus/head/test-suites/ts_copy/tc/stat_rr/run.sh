#!/bin/bash

source /etc/XrdTest/utils/functions.sh

# stat_rr, step 2: the client resolves the round-robin name data.xrd.test a
# few times and expects to find a marker behind it every time
if [ "@slavename@" == "client.xrd.test" ]; then
  run "getent ahosts data.xrd.test | grep -q 10.77.1."
  for i in 1 2 3 4; do
    run xrdfs data.xrd.test stat /data/marker
  done
  log "data.xrd.test answered 4 times"
fi
