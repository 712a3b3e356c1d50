#!/bin/bash

source /etc/XrdTest/utils/functions.sh

#-------------------------------------------------------------------------------
# Suite initialization for ts_copy (runs on every host of cluster_alpha)
#-------------------------------------------------------------------------------
SLAVE="@slavename@"
MASTER="@proto@://master.xrd.test:@port@"
CFG="$MASTER/downloadScript/test-suites/ts_copy/xrootd-alpha.cfg"

log "Initializing ts_copy on $SLAVE"

# Mount the extra disks of this host (empty for hosts without disks)
@diskmounts@

if [ "$SLAVE" == "client.xrd.test" ]; then
  log "Client: nothing to start, checking xrdcp"
  run which xrdcp
  exit 0
fi

log "Fetching xrootd configuration"
run wget -q --no-check-certificate -O /etc/xrootd/xrootd-alpha.cfg "$CFG"

if [ "$SLAVE" == "redir.xrd.test" ]; then
  ROLE=manager
else
  ROLE=server
  run mkdir -p /data
  run chown xrootd:xrootd /data
fi

log "Starting xrootd and cmsd as $ROLE"
run "echo XRDROLE=$ROLE > /etc/sysconfig/xrootd-alpha"
run service xrootd start
run service cmsd start
