#!/bin/bash
# xrdfs through the meta manager agrees with what the data servers hold:
# locate names the one server that has the file, stat gives its size, ls
# lists every file, and rm removes it from that server.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
for i in 1 2 3 4 5 6; do
    p=/data/fs/g$i
    size=$(stat -c %s /tmp/fs/g$i)
    at=$(holder $p) || fail "locate $p found no data server"
    holds "$at" $p || fail "locate says $at holds $p, $at says it does not"
    for s in $DATA_SERVERS; do
        [ $s = "$at" ] || ! holds $s $p || fail "$p is on $s too, locate named only $at"
    done
    got=$(xrdfs $MM stat $p | awk '$1 == "Size:" { print $2 }')
    [ "$got" = "$size" ] || fail "stat $p through $MM: size '$got', written $size"
    got=$(xrdfs "$at.xrd.test:1094" stat $p | awk '$1 == "Size:" { print $2 }')
    [ "$got" = "$size" ] || fail "stat $p on $at: size '$got', written $size"
    log "$p: on $at, $size bytes"
done
# A listing through the meta manager holds what the data servers hold.
want=$(for s in $DATA_SERVERS; do xrdfs $s.xrd.test:1094 ls /data/fs 2>/dev/null; done | sort)
got=$(xrdfs $MM ls /data/fs | sort)
log "ls $MM /data/fs: $(echo $got)"
[ "$got" = "$want" ] || fail "ls through $MM: [$(echo $got)], the data servers hold [$(echo $want)]"
# rm through the meta manager removes the file from its server.
for i in 1 3 5; do
    p=/data/fs/g$i
    at=$(holder $p)
    xrdfs $MM rm $p || fail "rm $p through $MM failed"
    ! holds "$at" $p || fail "rm $p through $MM: $at still holds it"
    ! xrdfs $MM stat $p >/dev/null 2>&1 || fail "rm $p: stat through $MM still finds it"
    log "rm $p: gone from $at"
done
