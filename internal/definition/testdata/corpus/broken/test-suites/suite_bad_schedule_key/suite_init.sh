#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_bad_schedule_key: suite init on @slavename@"
