#!/bin/bash
set -e
source /etc/XrdTest/utils/functions.sh
log "ts_two suite init on @slavename@"
