#!/bin/bash
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
for i in 1 2 3 4 5 6; do
    xrdfs $MM rm /data/fs/g$i 2>/dev/null
done
rm -rf /tmp/fs
exit 0
