#!/bin/bash
# ds1 publishes a file; everybody else has nothing to prepare.
source /etc/XrdTest/utils/functions.sh
SHARED=${XRDTEST_SHARED:-/tmp/xrdtest-example}
if [ "@slavename@" = "ds1.xrd.test" ]; then
    sleep 1   # a slow server: the client's run stage must still wait for it
    echo "payload written by @slavename@" > "$SHARED/payload.txt"
    log "published $SHARED/payload.txt"
fi
