#!/bin/bash
if [ "@slavename@" = "ds1.xrd.test" ]; then
    rm -f "${XRDTEST_SHARED:-/tmp/xrdtest-example}/payload.txt"
    [ -f /tmp/xrdtest-example-httpd.pid ] && kill "$(cat /tmp/xrdtest-example-httpd.pid)" && rm -f /tmp/xrdtest-example-httpd.pid
fi
exit 0
