#!/bin/bash
# Whatever rm left: each data server removes the case's files itself.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
case $HOST in
srv[1-4]) rm -rf /data/down ;;
client1) rm -rf /tmp/down ;;
esac
exit 0
