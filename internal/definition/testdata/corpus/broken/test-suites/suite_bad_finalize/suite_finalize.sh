#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_bad_finalize: suite finalize on @slavename@"
