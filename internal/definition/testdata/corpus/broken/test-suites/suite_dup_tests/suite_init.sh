#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "suite_dup_tests: suite init on @slavename@"
