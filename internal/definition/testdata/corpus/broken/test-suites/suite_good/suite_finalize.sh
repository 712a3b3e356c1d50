#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_good: suite finalize on @slavename@"
