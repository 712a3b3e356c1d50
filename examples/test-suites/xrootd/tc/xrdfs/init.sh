#!/bin/bash
# The client writes 6 files of distinct sizes under /data/fs.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
rm -rf /tmp/fs && mkdir /tmp/fs
for i in 1 2 3 4 5 6; do
    random_file /tmp/fs/g$i $((i * 1111))
    put /tmp/fs/g$i /data/fs/g$i
done
