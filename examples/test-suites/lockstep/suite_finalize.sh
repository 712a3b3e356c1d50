#!/bin/bash
# The original path; local quickstart slaves not run as root say where it is.
source "${XRDTEST_FUNCTIONS:-/etc/XrdTest/utils/functions.sh}"
rm -f "${XRDTEST_SHARED:-/tmp/xrdtest-example}/ran.@slavename@"
log "suite finalize on @slavename@" | tee -a "/tmp/xrdtest-example/@slavename@.log"
