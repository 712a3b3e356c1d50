#!/bin/bash

source /etc/XrdTest/utils/functions.sh

#-------------------------------------------------------------------------------
# get_file, step 1: the data servers write the file the client will read
#-------------------------------------------------------------------------------
SLAVE="@slavename@"

case "$SLAVE" in
  dsa.xrd.test|dsb.xrd.test)
    log "Writing /data/get_file.dat on $SLAVE"
    run "seq 1 200000 > /data/get_file.dat"
    run chown xrootd:xrootd /data/get_file.dat
    ;;
  client.xrd.test)
    log "Removing any previous local copy"
    run rm -f /tmp/get_file.dat
    ;;
  *)
    log "Nothing to prepare on $SLAVE"
    ;;
esac
