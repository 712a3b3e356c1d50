#!/bin/bash
# The client writes 16 new files through the meta manager.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
random_file /tmp/spread 20000
for i in $(seq 1 16); do
    put /tmp/spread /data/spread/s$i
done
log "16 files written"
