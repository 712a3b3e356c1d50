#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_good: suite init on @slavename@"
