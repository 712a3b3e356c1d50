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
: >/tmp/down/holders
for i in $(seq 1 32); do
    put /tmp/down/file /data/down/d$i
    echo "d$i $(holder /data/down/d$i)" >>/tmp/down/holders
    if [ $i -ge 8 ] && grep -q ' srv1$' /tmp/down/holders && grep -q ' srv2$' /tmp/down/holders &&
        grep -q ' srv[34]$' /tmp/down/holders; then
        break
    fi
done
grep -q ' srv1$' /tmp/down/holders && grep -q ' srv2$' /tmp/down/holders ||
    fail "of 32 new files, none went to srv1 or none to srv2: $(echo $(cat /tmp/down/holders))"
log "$(wc -l </tmp/down/holders) files, $(grep -c ' srv1$' /tmp/down/holders) on srv1"
