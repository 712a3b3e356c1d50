#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_bad_alert: suite init on @slavename@"
