#!/bin/bash
# New files spread over the data servers: each holds some (as it sees its own
# disk), and the client, asking each data server directly, finds every file
# on exactly one of them.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
case $HOST in
srv[1-4])
    n=$(ls /data/spread 2>/dev/null | wc -l)
    log "$HOST holds $n of the 16 files on its disk"
    [ "$n" -gt 0 ] || fail "$HOST holds none of the 16 new files"
    ;;
client1)
    for i in $(seq 1 16); do
        on=""
        for s in $DATA_SERVERS; do
            holds $s /data/spread/s$i && on="$on $s"
        done
        [ $(echo $on | wc -w) -eq 1 ] || fail "/data/spread/s$i is on [$on ], not on one data server"
        echo "s$i:$on"
    done
    ;;
esac
exit 0
