#!/bin/bash
# ds1 publishes a file; everybody else has nothing to prepare. Local
# quickstart slaves share a folder ($XRDTEST_SHARED); VMs get it over the
# cluster network from a small web server on ds1.
# The original path; local quickstart slaves not run as root say where it is.
source "${XRDTEST_FUNCTIONS:-/etc/XrdTest/utils/functions.sh}"
DIR=${XRDTEST_SHARED:-/tmp/xrdtest-example}
if [ "@slavename@" = "ds1.xrd.test" ]; then
    run mkdir -p "$DIR"
    sleep 1   # a slow server: the client's run stage must still wait for it
    echo "payload written by @slavename@" > "$DIR/payload.txt"
    if [ -z "$XRDTEST_SHARED" ]; then
        # Outlives this stage (the slave leaves background services alone);
        # finalize stops it.
        busybox httpd -f -p 8000 -h "$DIR" >/dev/null 2>&1 &
        echo $! > /tmp/xrdtest-example-httpd.pid
    fi
    log "published payload.txt"
fi
