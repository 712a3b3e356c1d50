#!/bin/bash

source /etc/XrdTest/utils/functions.sh

log "Cleaning up get_file on @slavename@"
run rm -f /data/get_file.dat /tmp/get_file.dat /tmp/get_file.expected
