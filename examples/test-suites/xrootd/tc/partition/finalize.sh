#!/bin/bash
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
case $HOST in
srv[1-4]) rm -rf /data/cut ;;
client1) rm -rf /tmp/cut ;;
esac
exit 0
