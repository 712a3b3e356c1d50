#!/bin/bash
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
for f in /tmp/copy/f*; do
    xrdfs $MM rm /data/copy/${f##*/} 2>/dev/null
done
rm -rf /tmp/copy
exit 0
