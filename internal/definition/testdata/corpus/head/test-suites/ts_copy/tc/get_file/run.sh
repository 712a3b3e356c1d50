#!/bin/bash

source /etc/XrdTest/utils/functions.sh

#-------------------------------------------------------------------------------
# get_file, step 2: the client reads the file written during init through the
# redirector and compares it with the expected content
#-------------------------------------------------------------------------------
if [ "@slavename@" == "client.xrd.test" ]; then
  log "Reading the file through redir.xrd.test"
  run xrdcp -f root://redir.xrd.test//data/get_file.dat /tmp/get_file.dat
  run "seq 1 200000 > /tmp/get_file.expected"
  run cmp /tmp/get_file.dat /tmp/get_file.expected
  log "Content matches"
else
  log "Serving only"
fi
