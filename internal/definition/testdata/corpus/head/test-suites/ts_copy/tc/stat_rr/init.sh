#!/bin/bash

source /etc/XrdTest/utils/functions.sh

# stat_rr, step 1: each data server drops a marker named after itself
case "@slavename@" in
  ds*)
    run "echo @slavename@ > /data/marker"
    log "Marker written on @slavename@"
    ;;
esac
