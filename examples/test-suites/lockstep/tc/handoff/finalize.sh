#!/bin/bash
SHARED=${XRDTEST_SHARED:-/tmp/xrdtest-example}
if [ "@slavename@" = "ds1.xrd.test" ]; then
    rm -f "$SHARED/payload.txt"
fi
