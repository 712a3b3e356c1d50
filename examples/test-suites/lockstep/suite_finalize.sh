#!/bin/bash
source /etc/XrdTest/utils/functions.sh
rm -f "${XRDTEST_SHARED:-/tmp/xrdtest-example}/ran.@slavename@"
log "suite finalize on @slavename@" | tee -a "/tmp/xrdtest-example/@slavename@.log"
