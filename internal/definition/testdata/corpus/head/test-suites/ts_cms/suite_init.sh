#!/bin/bash

source /etc/XrdTest/utils/functions.sh

# ts_cms: start a manager on mgr, a server on srv1, nothing on the client
log "Initializing ts_cms on @slavename@"
@diskmounts@

case "@slavename@" in
  mgr.xrd.test)
    run "echo 'all.role manager' > /etc/xrootd/cms-role.cfg"
    ;;
  srv1.xrd.test)
    run "echo 'all.role server' > /etc/xrootd/cms-role.cfg"
    run mkdir -p /data/cms
    ;;
  *)
    exit 0
    ;;
esac
run service xrootd start
run service cmsd start
