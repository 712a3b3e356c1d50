#!/bin/bash
# The client reads what ds1 wrote in init: this only works in lock-step.
# The original path; local quickstart slaves not run as root say where it is.
source "${XRDTEST_FUNCTIONS:-/etc/XrdTest/utils/functions.sh}"
if [ "@slavename@" = "client.xrd.test" ]; then
    if [ -n "$XRDTEST_SHARED" ]; then
        payload=$(cat "$XRDTEST_SHARED/payload.txt")
    else
        payload=$(timeout 10 wget -q -O - http://ds1.xrd.test:8000/payload.txt)
    fi
    log "read: $payload"
    [ "$payload" = "payload written by ds1.xrd.test" ] || { echo "unexpected payload"; exit 1; }
fi
