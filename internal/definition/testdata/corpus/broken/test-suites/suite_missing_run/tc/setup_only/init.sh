#!/bin/bash
source /etc/XrdTest/utils/functions.sh
log "setup_only init: run.sh was never written"
