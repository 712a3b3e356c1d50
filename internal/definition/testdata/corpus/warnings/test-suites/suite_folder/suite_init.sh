#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_folder: suite init on @slavename@"
