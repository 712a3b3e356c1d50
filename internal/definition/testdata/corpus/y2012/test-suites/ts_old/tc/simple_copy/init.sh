#!/bin/bash
source /etc/XrdTest/utils/functions.sh

# simple_copy, step 1: ds1 writes the source file
if [[ @slavename@ =~ ds1 ]]; then
  log "Writing /data/old/source.dat on @slavename@"
  run dd if=/dev/zero of=/data/old/source.dat bs=1M count=16
else
  log "Nothing to initialize on @slavename@"
fi
