#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_missing_run: suite init on @slavename@"
