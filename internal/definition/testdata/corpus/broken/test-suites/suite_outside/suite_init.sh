#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_outside: suite init on @slavename@"
