#!/bin/bash
# srv1 starts again: its files are found again (the next case, rejoin,
# checks the rest and removes the files).
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
case $HOST in
srv1)
    if pgrep -x xrootd >/dev/null; then
        log "srv1: xrootd still runs (the run stage did not stop it)"
    else
        start_daemons
        log "srv1: xrootd and cmsd started again"
    fi
    xrdtest sync signal srv1-up
    ;;
client1)
    xrdtest sync wait srv1-up || fail "srv1 did not say it started again"
    [ -s /tmp/down/holders ] || exit 0 # the init stage wrote nothing
    while read -r f at; do
        [ "$at" = srv1 ] || continue
        until_ok 60 "$f found again on srv1" xrdcp -s -f "$ROOT//data/down/$f" /tmp/down/back
        cmp /tmp/down/file /tmp/down/back || fail "$f read back from srv1 differs"
        log "$f (srv1): found again after $SECONDS s of this stage"
    done </tmp/down/holders
    ;;
esac
exit 0
