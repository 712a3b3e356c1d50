#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_syntax: suite init on @slavename@"
