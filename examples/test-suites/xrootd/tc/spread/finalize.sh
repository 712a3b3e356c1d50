#!/bin/bash
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
for i in $(seq 1 16); do
    xrdfs $MM rm /data/spread/s$i 2>/dev/null
done
exit 0
