#!/bin/bash
# The client writes files through the meta manager until srv1, the server
# this case stops, holds some, srv2 (under the same manager) too, and the
# servers under the other manager some too; it keeps each file's holder in
# /tmp/down/holders.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
rm -rf /tmp/down && mkdir /tmp/down
random_file /tmp/down/file 30000
place down 8 srv1 srv2 'srv[34]'
