#!/bin/bash

source /etc/XrdTest/utils/functions.sh

if [ -f /data/put_file.dat ]; then
  log "@slavename@ holds put_file.dat ($(stat -c %s /data/put_file.dat) bytes)"
  run rm -f /data/put_file.dat
fi
run rm -f /tmp/put_file.dat
