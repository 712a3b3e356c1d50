#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_bad_minute: suite init on @slavename@"
