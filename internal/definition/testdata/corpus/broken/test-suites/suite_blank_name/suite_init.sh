#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_blank_name: suite init on @slavename@"
