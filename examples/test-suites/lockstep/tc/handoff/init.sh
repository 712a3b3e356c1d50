#!/bin/bash
# ds1 publishes a file; everybody else has nothing to prepare.
# The original path; local quickstart slaves not run as root say where it is.
source "${XRDTEST_FUNCTIONS:-/etc/XrdTest/utils/functions.sh}"
SHARED=${XRDTEST_SHARED:-/tmp/xrdtest-example}
if [ "@slavename@" = "ds1.xrd.test" ]; then
    sleep 1   # a slow server: the client's run stage must still wait for it
    echo "payload written by @slavename@" > "$SHARED/payload.txt"
    log "published $SHARED/payload.txt"
fi
