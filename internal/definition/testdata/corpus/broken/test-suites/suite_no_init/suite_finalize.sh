#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_no_init: suite finalize on @slavename@"
