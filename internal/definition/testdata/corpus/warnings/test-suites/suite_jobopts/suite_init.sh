#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_jobopts: suite init on @slavename@"
