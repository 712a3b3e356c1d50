#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_broken_cluster: suite init on @slavename@"
