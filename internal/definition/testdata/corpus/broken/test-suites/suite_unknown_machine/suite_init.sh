#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_unknown_machine: suite init on @slavename@"
