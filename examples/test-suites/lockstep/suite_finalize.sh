#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite finalize on @slavename@" | tee -a "/tmp/xrdtest-example/@slavename@.log"
