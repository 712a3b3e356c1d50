#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_unknown_cluster: suite init on @slavename@"
