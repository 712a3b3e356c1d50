#!/bin/bash
# Runs on every machine before the first case. XRDTEST_SHARED is a folder
# all local slaves share (quickstart); VMs use their own /tmp.
# The original path; local quickstart slaves not run as root say where it is.
source "${XRDTEST_FUNCTIONS:-/etc/XrdTest/utils/functions.sh}"
SHARED=${XRDTEST_SHARED:-/tmp/xrdtest-example}
run mkdir -p "$SHARED" /tmp/xrdtest-example
log "suite init on @slavename@" | tee -a "/tmp/xrdtest-example/@slavename@.log"
