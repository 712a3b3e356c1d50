#!/bin/bash
# Stops every daemon the suite started.
source /etc/XrdTest/utils/functions.sh
[ -e /var/lib/xrootd/xrdtest-suite/lib.sh ] || { echo "suite init did not get this far: nothing to stop"; exit 0; }
source /var/lib/xrootd/xrdtest-suite/lib.sh
if is_server; then
    stop_daemons
    log "$HOST: xrootd and cmsd stopped"
fi
