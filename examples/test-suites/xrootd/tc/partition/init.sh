#!/bin/bash
# The client writes files through the meta manager until srv3, the server
# this case cuts off, holds some and the others hold some too.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
rm -rf /tmp/cut && mkdir /tmp/cut
random_file /tmp/cut/file 20000
: >/tmp/cut/holders
for i in $(seq 1 32); do
    put /tmp/cut/file /data/cut/c$i
    echo "c$i $(holder /data/cut/c$i)" >>/tmp/cut/holders
    if [ $i -ge 6 ] && grep -q ' srv3$' /tmp/cut/holders && grep -qv ' srv3$' /tmp/cut/holders; then
        break
    fi
done
grep -q ' srv3$' /tmp/cut/holders || fail "none of 32 new files went to srv3"
log "$(wc -l </tmp/cut/holders) files, $(grep -c ' srv3$' /tmp/cut/holders) on srv3"
