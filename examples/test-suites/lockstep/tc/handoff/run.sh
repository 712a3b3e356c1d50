#!/bin/bash
# The client reads what ds1 wrote in init: this only works in lock-step.
# The original path; local quickstart slaves not run as root say where it is.
source "${XRDTEST_FUNCTIONS:-/etc/XrdTest/utils/functions.sh}"
SHARED=${XRDTEST_SHARED:-/tmp/xrdtest-example}
if [ "@slavename@" = "client.xrd.test" ]; then
    run test -s "$SHARED/payload.txt"
    log "read: $(cat "$SHARED/payload.txt")"
    run grep -q "payload written by ds1.xrd.test" "$SHARED/payload.txt"
fi
