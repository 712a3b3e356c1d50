#!/bin/bash
# The client writes files through the meta manager until srv3, the server
# this case cuts off, holds some and the others hold some too.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
rm -rf /tmp/cut && mkdir /tmp/cut
random_file /tmp/cut/file 20000
place cut 6 srv3 'srv[124]'
