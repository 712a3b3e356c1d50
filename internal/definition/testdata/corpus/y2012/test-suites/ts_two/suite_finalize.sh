#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "ts_two suite finalize on @slavename@"
