#!/bin/bash
# The client makes files of several sizes, empty and larger than one
# xrdcp buffer included.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
rm -rf /tmp/copy && mkdir -p /tmp/copy
for size in 0 1 4096 1000000 9000000; do
    random_file /tmp/copy/f$size $size
done
ls -l /tmp/copy
