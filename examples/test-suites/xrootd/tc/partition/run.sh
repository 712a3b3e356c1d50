#!/bin/bash
# srv3 is cut off from the client (xrdtest fault partition: the managers
# still see it): reads of its files fail, the others' succeed; healed, all
# are read again.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
# Give up on an unreachable server in seconds, not XrdCl's minutes.
read_back() {
    XRD_CONNECTIONWINDOW=2 XRD_CONNECTIONRETRY=1 XRD_REQUESTTIMEOUT=10 \
        timeout 30 xrdcp -s -f "$ROOT//data/cut/$1" /tmp/cut/back 2>/dev/null && cmp -s /tmp/cut/file /tmp/cut/back
}
id=$(xrdtest fault partition client1 srv3) || fail "cannot cut srv3 off: $id"
log "fault $id: srv3 cut off from client1"
while read -r f at; do
    if [ "$at" = srv3 ]; then
        ! read_back $f || fail "$f is on srv3, cut off, yet it was read"
        log "$f (srv3): not read, as it should be"
    else
        read_back $f || fail "$f on $at: not read while srv3 is cut off"
    fi
done </tmp/cut/holders
xrdtest fault heal $id >/dev/null || fail "cannot heal $id"
log "fault $id healed"
while read -r f at; do
    until_ok 30 "$f on $at read after the heal" read_back $f
done </tmp/cut/holders
log "every file read again"
