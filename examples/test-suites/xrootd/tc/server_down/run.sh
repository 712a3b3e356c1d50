#!/bin/bash
# srv1's xrootd and cmsd stop in the middle of the case: its files are no
# longer found through the meta manager, the other servers' still are.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
case $HOST in
srv1)
    stop_daemons
    log "srv1: xrootd and cmsd stopped"
    xrdtest sync signal srv1-down
    ;;
client1)
    xrdtest sync wait srv1-down || fail "srv1 did not say it stopped"
    start=$SECONDS
    while read -r f at; do
        [ "$at" = srv1 ] || continue
        until_ok 60 "$f (on srv1, which is down) reported missing" missing /data/down/$f
        log "$f (srv1): reported missing $((SECONDS - start)) s after srv1 stopped"
    done </tmp/down/holders
    while read -r f at; do
        if [ "$at" = srv1 ]; then
            missing /data/down/$f || fail "$f is on srv1, which is down, yet it is found again"
        else
            out=$(xrdcp -s -f "$ROOT//data/down/$f" /tmp/down/back 2>&1) ||
                fail "$f on $at: not read while srv1 is down: $out"
            cmp /tmp/down/file /tmp/down/back || fail "$f on $at: read back differs"
            log "$f ($at): read"
        fi
    done </tmp/down/holders
    ;;
esac
exit 0
