#!/bin/bash
SHARED=${XRDTEST_SHARED:-/tmp/xrdtest-example}
rm -f "$SHARED/ran.@slavename@"
