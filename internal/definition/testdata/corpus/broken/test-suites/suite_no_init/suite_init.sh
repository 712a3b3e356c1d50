#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_no_init: suite init on @slavename@"
