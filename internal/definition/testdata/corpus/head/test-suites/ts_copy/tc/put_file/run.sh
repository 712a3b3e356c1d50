#!/bin/bash

source /etc/XrdTest/utils/functions.sh

#-------------------------------------------------------------------------------
# put_file: the client writes a file through the redirector; the servers
# check in finalize which of them got it
#-------------------------------------------------------------------------------
if [ "@slavename@" == "client.xrd.test" ]; then
  run "head -c 10485760 /dev/urandom > /tmp/put_file.dat"
  log "Uploading 10 MiB through redir.xrd.test"
  run xrdcp -f /tmp/put_file.dat root://redir.xrd.test//data/put_file.dat
fi
